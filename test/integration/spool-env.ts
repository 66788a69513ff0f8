/**
 * A small environment for the spool scenario tests: log files with numbered lines per key, a
 * config file, and checks that every line arrived in order per key.
 *
 * A line is `<key> <seq> <padding>`: the key is the source (and its file), seq counts from 0.
 */
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SpoolEnvOptions {
  keys: readonly string[];
  /** Extra YAML lines appended to the config (spool, sink, batch settings). */
  extra?: readonly string[];
  brokers?: readonly string[];
  /** Extra YAML lines under sink.kafka, indented by 4 (e.g. `    compression: none`). */
  kafka?: readonly string[];
  topic?: string;
  /** Serve /status on a free port (the agent logs it). */
  metrics?: boolean;
  /** Bytes of padding per line (default 40). */
  pad?: number;
}

export class SpoolEnv {
  readonly dir: string;
  readonly logDir: string;
  readonly dataDir: string;
  readonly keys: readonly string[];
  readonly written = new Map<string, number>();
  readonly #pad: string;
  readonly opts: SpoolEnvOptions;
  #rotations = 0;

  constructor(opts: SpoolEnvOptions) {
    this.opts = opts;
    this.dir = mkdtempSync(join(tmpdir(), 'logferry-spool-it-'));
    this.logDir = join(this.dir, 'logs');
    this.dataDir = join(this.dir, 'data');
    mkdirSync(this.logDir);
    this.keys = opts.keys;
    this.#pad = 'p'.repeat(opts.pad ?? 40);
    for (const k of opts.keys) this.written.set(k, 0);
  }

  file(key: string): string {
    return join(this.logDir, `${key}.log`);
  }

  /** Appends `n` lines to every key's file. */
  write(n: number): void {
    for (const k of this.keys) {
      const from = this.written.get(k) ?? 0;
      let text = '';
      for (let i = from; i < from + n; i++) text += `${k} ${i} ${this.#pad}\n`;
      appendFileSync(this.file(k), text);
      this.written.set(k, from + n);
    }
  }

  /** Renames every key's file away (as logrotate does) and deletes it after `deleteAfter` (tests do it at once). */
  rotateAway(): void {
    this.#rotations++;
    for (const k of this.keys) {
      const rotated = join(this.dir, `${k}.log.${this.#rotations}`);
      renameSync(this.file(k), rotated);
      rmSync(rotated);
    }
  }

  get total(): number {
    let n = 0;
    for (const v of this.written.values()) n += v;
    return n;
  }

  config(name = 'logferry.yaml'): string {
    const p = join(this.dir, name);
    const lines = [
      `data_dir: ${this.dataDir}`,
      'sources:',
      ...this.keys.flatMap((k) => [
        `  - name: ${k}`,
        `    include: ["${this.file(k)}"]`,
        `    service: ${k}`,
        '    key: service',
      ]),
      'tail:',
      '  scan_interval_ms: 200',
      'batch:',
      '  linger_ms: 20',
      'sink:',
      '  kafka:',
      `    brokers: [${(this.opts.brokers ?? ['127.0.0.1:1']).map((b) => `"${b}"`).join(', ')}]`,
      `    topic: ${this.opts.topic ?? 'logs'}`,
      '    connection_timeout_ms: 300',
      '    request_timeout_ms: 3000',
      '    retry:',
      '      initial_ms: 20',
      '      max_ms: 300',
      ...(this.opts.kafka ?? []),
      'metrics:',
      `  enabled: ${this.opts.metrics === true}`,
      '  listen: 127.0.0.1:0',
      ...(this.opts.extra ?? []),
    ];
    writeFileSync(p, `${lines.join('\n')}\n`);
    return p;
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** How many written lines are not among `delivered` (duplicates do not count). */
export function missingCount(env: SpoolEnv, delivered: readonly Delivered[]): number {
  const seen = new Set<string>();
  for (const d of delivered) {
    const { key, seq } = lineOf(d.value ?? '{}');
    seen.add(`${key} ${seq}`);
  }
  let missing = 0;
  for (const k of env.keys)
    for (let i = 0; i < (env.written.get(k) ?? 0); i++) if (!seen.has(`${k} ${i}`)) missing++;
  return missing;
}

/** The (key, seq) of a record value the agent produced from a SpoolEnv line. */
export function lineOf(value: string): { key: string; seq: number } {
  const message = (JSON.parse(value) as { message: string }).message;
  const sp = message.indexOf(' ');
  return { key: message.slice(0, sp), seq: Number(message.slice(sp + 1, message.indexOf(' ', sp + 1))) };
}

export interface Delivered {
  key: string | null;
  value: string | null;
}

/**
 * Every written line arrived, and per key in order. Duplicates (at-least-once after a crash) are
 * allowed only with `allowDuplicates`; then each key's sequence must still never go back beyond
 * a replayed run, i.e. the first occurrences are in order.
 */
export function checkDelivered(
  env: SpoolEnv,
  delivered: readonly Delivered[],
  opts: { allowDuplicates?: boolean; missing?: Map<string, Set<number>> } = {},
): { duplicates: number } {
  const seen = new Map<string, Set<number>>();
  const lastFirst = new Map<string, number>();
  let duplicates = 0;
  for (const d of delivered) {
    const { key, seq } = lineOf(d.value ?? '{}');
    assert.equal(d.key, key, 'message key is the source service');
    let s = seen.get(key);
    if (s === undefined) {
      s = new Set();
      seen.set(key, s);
    }
    if (s.has(seq)) {
      duplicates++;
      assert.ok(opts.allowDuplicates, `duplicate ${key} ${seq}`);
      continue;
    }
    s.add(seq);
    const prev = lastFirst.get(key) ?? -1;
    assert.ok(seq > prev, `${key}: ${seq} arrived after ${prev} (order per key)`);
    lastFirst.set(key, seq);
  }
  for (const k of env.keys) {
    const n = env.written.get(k) ?? 0;
    const s = seen.get(k) ?? new Set();
    const skip = opts.missing?.get(k);
    const lost: number[] = [];
    for (let i = 0; i < n; i++) if (!s.has(i) && !skip?.has(i)) lost.push(i);
    assert.deepEqual(lost.slice(0, 20), [], `${k}: ${lost.length} of ${n} lines missing`);
  }
  return { duplicates };
}
