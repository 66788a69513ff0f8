import { ParseConfigError } from '../model/errors.ts';
import type { MultilineConfig, ParserName, ParseSource } from './parse-config.ts';
import { PARSER_NAMES } from './parse-config.ts';
import type { Parser } from './parser.ts';
import { createParser } from './parsers/index.ts';

/** A source's parse settings, compiled once and shared by the decoders of all its files. */
export interface DecodePlan {
  readonly wrapper: 'none' | 'cri' | 'docker';
  readonly chain: readonly Parser[];
  readonly multiline: CompiledMultiline | undefined;
  readonly partialTimeoutMs: number;
  readonly partialMaxBytes: number;
}

export interface CompiledMultiline {
  readonly start: RegExp | undefined;
  readonly cont: RegExp | undefined;
  readonly negate: boolean;
  readonly maxLines: number;
  readonly maxBytes: number;
  readonly timeoutMs: number;
}

/**
 * Continuation rules: a line matching the preset's pattern belongs to the event before it.
 * - java: the exception line (`java.lang.IllegalStateException: boom`), indented frames
 *   (`\tat ...`, `\t... 12 more`), `Caused by:` and `Suppressed:`.
 * - python: the traceback header, indented frames, the final `SomethingError: ...` line, the
 *   chained-exception sentences and the blank lines between them.
 * - go: `goroutine N [...]:`, function lines `pkg.fn(...)`, indented file lines, `created by`,
 *   `[signal ...`, `exit status N` and blank lines after a `panic:` line.
 */
export const MULTILINE_PRESETS: Record<'java' | 'python' | 'go', string> = {
  java: String.raw`^(?:\s+\S|\s*(?:Caused by|Suppressed):|\s*\.\.\. \d+ (?:more|common frames omitted)|[\w$.]+(?:Exception|Error|Throwable)(?::\s|$))`,
  python: String.raw`^(?:\s|$|Traceback \(most recent call last\):|During handling of the above exception|The above exception was the direct cause|[\w.]*(?:Error|Exception|Warning|Exit|Interrupt|StopIteration)\b)`,
  go: String.raw`^(?:\s|$|goroutine \d+ \[|created by |\[signal |exit status \d+|[\w./*()\-]+\(.*\)\s*$)`,
};

function compileRegex(pattern: string, what: string, source: string): RegExp {
  try {
    return new RegExp(pattern);
  } catch (e) {
    throw new ParseConfigError(
      `source ${source}: ${what} is not a valid regular expression (${(e as Error).message}): fix the pattern`,
    );
  }
}

function compileMultiline(m: Partial<MultilineConfig>, source: string): CompiledMultiline {
  const preset = m.preset ?? 'none';
  let start = m.start_pattern ?? '';
  let cont = m.continue_pattern ?? '';
  if (start !== '' && cont !== '') {
    throw new ParseConfigError(
      `source ${source}: multiline has both start_pattern and continue_pattern: keep one of them`,
    );
  }
  if (start === '' && cont === '') {
    if (preset === 'none') {
      throw new ParseConfigError(
        `source ${source}: multiline needs a preset (java, python, go), a start_pattern or a continue_pattern`,
      );
    }
    cont = MULTILINE_PRESETS[preset];
    start = '';
  }
  return {
    start: start !== '' ? compileRegex(start, 'multiline.start_pattern', source) : undefined,
    cont: cont !== '' ? compileRegex(cont, 'multiline.continue_pattern', source) : undefined,
    negate: m.negate ?? false,
    maxLines: m.max_lines ?? 500,
    maxBytes: m.max_bytes ?? 1048576,
    timeoutMs: m.timeout_ms ?? 1000,
  };
}

export function compilePlan(source: ParseSource): DecodePlan {
  const names: readonly string[] =
    source.parser === undefined
      ? ['none']
      : typeof source.parser === 'string'
        ? [source.parser]
        : source.parser;
  if (names.length === 0)
    throw new ParseConfigError(`source ${source.name}: parser chain is empty: name a parser`);
  let wrapper: DecodePlan['wrapper'] = 'none';
  const chain: Parser[] = [];
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    if (!(PARSER_NAMES as readonly string[]).includes(name)) {
      throw new ParseConfigError(
        `source ${source.name}: unknown parser "${name}": use one of ${PARSER_NAMES.join(', ')}`,
      );
    }
    if (name === 'cri' || name === 'docker') {
      if (i !== 0) {
        throw new ParseConfigError(
          `source ${source.name}: parser ${name} unwraps the container runtime's format and must come first in the chain`,
        );
      }
      wrapper = name;
      continue;
    }
    if (name === 'none') continue;
    chain.push(createParser(name as Exclude<ParserName, 'cri' | 'docker' | 'none'>, source));
  }
  return {
    wrapper,
    chain,
    multiline: source.multiline === undefined ? undefined : compileMultiline(source.multiline, source.name),
    partialTimeoutMs: source.partial_timeout_ms ?? 5000,
    partialMaxBytes: source.partial_max_bytes ?? 1048576,
  };
}
