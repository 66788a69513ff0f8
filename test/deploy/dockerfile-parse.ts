/**
 * A small Dockerfile reader for tests: instructions with line continuations joined, comments and
 * parser directives dropped, grouped into stages, with exec-form (JSON) arguments decoded. Enough
 * for the instructions our Dockerfile uses; not a BuildKit implementation.
 */
export interface Instruction {
  /** Upper-case keyword: FROM, RUN, COPY, ... */
  cmd: string;
  /** Everything after the keyword, continuations joined with a space. */
  args: string;
  /** The exec form's array when the arguments are a JSON array, else undefined. */
  exec: string[] | undefined;
  /** `--name=value` flags at the start of the arguments (COPY --from, HEALTHCHECK --interval, ...). */
  flags: Record<string, string>;
  line: number;
}

export interface Stage {
  name: string | undefined;
  /** The FROM image with `${ARG}` references to global ARG defaults expanded. */
  base: string;
  instructions: Instruction[];
}

export interface Dockerfile {
  globalArgs: Record<string, string>;
  stages: Stage[];
  all: Instruction[];
}

export function parseDockerfile(text: string): Dockerfile {
  const all: Instruction[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const first = lines[i]!;
    if (/^\s*(#.*)?$/.test(first)) continue;
    const start = i + 1;
    let joined = first;
    while (/\\\s*$/.test(joined) && i + 1 < lines.length) {
      i++;
      const next = lines[i]!;
      if (/^\s*#/.test(next)) continue; // comments inside a continuation are dropped by Docker
      joined = `${joined.replace(/\\\s*$/, '')} ${next.trim()}`;
    }
    const m = /^\s*([A-Za-z]+)\s*(.*)$/.exec(joined);
    if (m === null) throw new Error(`Dockerfile line ${start}: cannot read "${joined}"`);
    const cmd = m[1]!.toUpperCase();
    let rest = m[2]!.trim();
    const flags: Record<string, string> = {};
    for (let f = /^--([a-z-]+)=(\S+)\s*/.exec(rest); f !== null; f = /^--([a-z-]+)=(\S+)\s*/.exec(rest)) {
      flags[f[1]!] = f[2]!;
      rest = rest.slice(f[0].length);
    }
    all.push({ cmd, args: rest, exec: execForm(rest), flags, line: start });
  }
  const globalArgs: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const ins of all) {
    if (ins.cmd === 'FROM') {
      const [image = '', as, name] = ins.args.split(/\s+/);
      const base = image.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_m, n: string) => globalArgs[n] ?? '');
      stages.push({ name: as?.toUpperCase() === 'AS' ? name : undefined, base, instructions: [] });
    } else if (stages.length === 0) {
      if (ins.cmd === 'ARG') {
        const [k = '', v = ''] = ins.args.split('=');
        globalArgs[k.trim()] = v.trim();
      }
    } else {
      stages.at(-1)!.instructions.push(ins);
    }
  }
  return { globalArgs, stages, all };
}

function execForm(args: string): string[] | undefined {
  // HEALTHCHECK's exec form follows its CMD keyword
  const body = args.replace(/^CMD\s+/, '');
  if (!body.startsWith('[')) return undefined;
  try {
    const v: unknown = JSON.parse(body);
    return Array.isArray(v) && v.every((s) => typeof s === 'string') ? v : undefined;
  } catch {
    return undefined;
  }
}

/**
 * .dockerignore semantics as Docker's pattern matcher applies them: patterns are matched against
 * the path and each of its parent directories, `*` and `?` stay within one path element, `**`
 * crosses them, and the last matching pattern wins (`!` re-includes).
 */
export function dockerIgnored(patterns: readonly string[], path: string): boolean {
  let ignored = false;
  for (const raw of patterns) {
    const negate = raw.startsWith('!');
    const p = (negate ? raw.slice(1) : raw).trim().replace(/^\/+/, '').replace(/\/+$/, '');
    if (p === '') continue;
    const re = globToRegExp(p);
    const parts = path.split('/');
    for (let n = 1; n <= parts.length; n++) {
      if (re.test(parts.slice(0, n).join('/'))) {
        ignored = !negate;
        break;
      }
    }
  }
  return ignored;
}

export function readDockerignore(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      re += glob[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += glob[i + 2] === '/' ? 2 : 1;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}
