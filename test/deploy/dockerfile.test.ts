import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { runCli } from '../support/agent-process.ts';
import { dockerIgnored, type Instruction, parseDockerfile, readDockerignore } from './dockerfile-parse.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const df = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
const ignore = readDockerignore(readFileSync(join(ROOT, '.dockerignore'), 'utf8'));
const runtime = df.stages.at(-1)!;
const last = (cmd: string, ins: Instruction[] = runtime.instructions) =>
  ins.filter((i) => i.cmd === cmd).at(-1);
const runs = (ins: Instruction[]) =>
  ins
    .filter((i) => i.cmd === 'RUN')
    .map((i) => i.args)
    .join('\n');
const workdir = last('WORKDIR')?.args ?? '/';
const inImage = (dest: string) => (dest.startsWith('/') ? dest : join(workdir, dest));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
};

/** COPY instructions of the final stage that take files from the build context. */
const contextCopies = runtime.instructions
  .filter((i) => i.cmd === 'COPY' && i.flags['from'] === undefined)
  .map((i) => {
    const words = i.args.split(/\s+/);
    return { sources: words.slice(0, -1), dest: words.at(-1)! };
  });

test('multi-stage on node:24-slim, no floating tags', () => {
  assert.ok(df.stages.length >= 2, 'a deps stage and a runtime stage');
  for (const s of df.stages) {
    assert.match(s.base, /^node:24-slim(@sha256:[0-9a-f]{64})?$/, `stage ${s.name}: base ${s.base}`);
  }
  assert.equal(
    df.all.some((i) => i.cmd === 'ADD'),
    false,
    'COPY, not ADD',
  );
});

test('production dependencies only, installed from the lock in a separate stage', () => {
  const deps = df.stages.find((s) => s.name === 'deps');
  assert.ok(deps, 'a stage named deps');
  const install = runs(deps.instructions);
  assert.match(install, /\bnpm ci\b/, 'npm ci (the lock), not npm install');
  assert.match(install, /--omit=dev\b/);
  const copied = deps.instructions.filter((i) => i.cmd === 'COPY').map((i) => i.args);
  assert.deepEqual(
    copied,
    ['package.json package-lock.json ./'],
    'only the manifests before npm ci (layer cache)',
  );
  const fromDeps = runtime.instructions.find((i) => i.cmd === 'COPY' && i.flags['from'] === 'deps');
  assert.ok(fromDeps, 'the runtime stage takes node_modules from deps');
  assert.match(fromDeps.args, /node_modules/);
  assert.doesNotMatch(runs(runtime.instructions), /\bnpm (ci|install)\b/, 'no install in the runtime stage');
  assert.equal(
    runtime.instructions.find((i) => i.cmd === 'ENV' && /NODE_ENV=production/.test(i.args))?.cmd,
    'ENV',
  );
});

test('every package that src/ and bin/ import is a production dependency', () => {
  const bare = new Set<string>();
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir)) {
      const p = join(dir, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(ts|js)$/.test(e)) {
        const text = readFileSync(p, 'utf8');
        for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/g)) {
          // `import type` is erased at run time, so its package need not be installed
          if (/^\s*(?:import|export)\s+type\s/.test(m[0].trim())) continue;
          bare.add(m[1]!);
        }
        for (const m of text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)) bare.add(m[1]!);
      }
    }
  };
  walk(join(ROOT, 'src'));
  walk(join(ROOT, 'bin'));
  assert.ok(bare.has('yargs') && bare.has('kafkajs'), 'the import scan sees the CLI and the Kafka client');
  const missing: string[] = [];
  for (const spec of bare) {
    if (spec.startsWith('.') || spec.startsWith('node:')) continue;
    const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
    if (!(name in pkg.dependencies)) missing.push(spec);
  }
  assert.deepEqual(
    missing,
    [],
    'imported by src/ or bin/ but not in package.json dependencies (npm ci --omit=dev drops it)',
  );
});

test('runs as a dedicated non-root user, created in the image', () => {
  const user = last('USER');
  assert.ok(user, 'a USER instruction in the runtime stage');
  const [uid = '', gid] = user.args.split(':');
  assert.match(uid, /^\d+$/, 'a numeric uid, so Kubernetes runAsNonRoot can verify it');
  assert.notEqual(Number(uid), 0);
  assert.ok(gid === undefined || Number(gid) !== 0, 'not group root');
  const setup = runs(runtime.instructions);
  assert.match(setup, new RegExp(`useradd[^&]*--uid ${uid}\\b`), `user ${uid} is created`);
  // USER comes after every RUN, so nothing the image does at run time can be root
  const userIndex = runtime.instructions.indexOf(user);
  assert.equal(
    runtime.instructions.slice(userIndex).some((i) => i.cmd === 'RUN'),
    false,
    'no RUN after USER',
  );
});

test('writes only under data_dir: a volume owned by the user; the bundled config points there', async () => {
  const volume = last('VOLUME');
  assert.ok(volume?.exec, 'VOLUME in exec form');
  const [dataDir] = volume.exec;
  assert.ok(dataDir);
  assert.equal(volume.exec.length, 1, 'one writable path');
  const config = bundledConfig();
  const parsed = parseYaml(readFileSync(config.source, 'utf8')) as { data_dir: string };
  assert.equal(parsed.data_dir, dataDir, 'the bundled config writes where the volume is');
  const setup = runs(runtime.instructions);
  assert.match(setup, new RegExp(`chown [^&]*logferry[^&]* ${dataDir}\\b`), 'data_dir owned by the user');
  // the app itself is root-owned and read-only for the user: COPY without --chown
  for (const c of runtime.instructions.filter((i) => i.cmd === 'COPY')) {
    assert.equal(c.flags['chown'], undefined, `${c.args}: the app files stay root-owned`);
  }
});

test('PID 1 forwards signals: tini in exec form runs the CLI', () => {
  const entry = last('ENTRYPOINT');
  assert.ok(entry?.exec, 'ENTRYPOINT in exec form (a shell as PID 1 would swallow SIGTERM)');
  assert.equal(entry.exec[0], '/usr/bin/tini');
  assert.equal(entry.exec[1], '--');
  assert.deepEqual(entry.exec.slice(2), ['node', inImage('bin/logferry.js')]);
  assert.match(runs(runtime.instructions), /apt-get install[^&]*\btini\b/, 'tini is installed');
  assert.ok(
    contextCopies.some((c) => c.sources.includes('bin') && inImage(c.dest) === inImage('bin')),
    'bin/ is copied to where the ENTRYPOINT runs it',
  );
  assert.ok(contextCopies.some((c) => c.sources.includes('src') && inImage(c.dest) === inImage('src')));
  assert.ok(
    contextCopies.some((c) => c.sources.includes('package.json')),
    'package.json: "type": "module", version',
  );
  const stop = last('STOPSIGNAL');
  assert.ok(stop === undefined || stop.args === 'SIGTERM');
});

test('CMD runs the bundled config, which passes check-config', async () => {
  const config = bundledConfig();
  const cmd = last('CMD');
  assert.ok(cmd?.exec);
  assert.deepEqual(cmd.exec, ['run', '--config', config.dest]);
  const r = await runCli(['check-config', config.source]);
  assert.equal(r.code, 0, r.stderr);
});

test('COPY sources exist and are not excluded by .dockerignore', () => {
  for (const c of contextCopies) {
    for (const s of c.sources) {
      statSync(join(ROOT, s));
      assert.equal(dockerIgnored(ignore, s), false, `${s} is in the build context`);
    }
  }
  assert.equal(dockerIgnored(ignore, 'package-lock.json'), false);
  assert.equal(dockerIgnored(ignore, 'src/cli/main.ts'), false);
  for (const p of [
    'node_modules/yaml/index.js',
    '.git/HEAD',
    'test/unit/x.test.ts',
    'data/checkpoints.json',
    '.kafka/x',
    '.env',
    'docs/tuning.md',
    'src/x/node_modules/y.js',
  ]) {
    assert.equal(dockerIgnored(ignore, p), true, `${p} stays out of the build context`);
  }
});

test('HEALTHCHECK asks /healthz on the default metrics port with Node (slim has no curl)', async () => {
  const hc = last('HEALTHCHECK');
  assert.ok(hc?.exec, 'HEALTHCHECK CMD in exec form');
  assert.equal(hc.exec[0], 'node');
  assert.equal(hc.exec[1], '-e');
  const script = hc.exec[2]!;
  assert.match(script, /http:\/\/127\.0\.0\.1:9464\/healthz/, 'metrics.listen default 127.0.0.1:9464');
  for (const f of ['interval', 'timeout', 'start-period', 'retries']) assert.ok(hc.flags[f], `--${f}`);

  // The snippet itself: 0 for 200, 1 for 503, 1 when nothing listens.
  let status = 200;
  const server = createServer((req, res) => {
    res.statusCode = req.url === '/healthz' ? status : 404;
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/healthz`;
  const probe = async (u: string) => {
    try {
      await promisify(execFile)(process.execPath, ['-e', script], {
        env: { ...process.env, LOGFERRY_HEALTHCHECK_URL: u },
        timeout: 10_000,
      });
      return 0;
    } catch (err) {
      return (err as { code?: number }).code;
    }
  };
  try {
    assert.equal(await probe(url), 0);
    status = 503;
    assert.equal(await probe(url), 1);
  } finally {
    await new Promise((r) => server.close(r));
  }
  assert.equal(await probe(url), 1, 'connection refused');
});

function bundledConfig(): { source: string; dest: string } {
  const c = contextCopies.find((x) => /\.ya?ml$/.test(x.dest) && x.dest.startsWith('/etc/'));
  assert.ok(c, 'a config copied under /etc');
  return { source: join(ROOT, c.sources[0]!), dest: c.dest };
}
