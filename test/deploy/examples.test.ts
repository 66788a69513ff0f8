import assert from 'node:assert/strict';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { validateConfig } from '../../src/config/load.ts';
import { startAgent, waitFor } from '../support/agent-process.ts';
import { checkConfigCli, startupCheck } from './config-check.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const EXAMPLES = join(ROOT, 'examples');
const tmp = mkdtempSync(join(tmpdir(), 'logferry-examples-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Examples run without any environment variable of theirs: each ${VAR} has a default. */
const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'] };

/**
 * The key paths the current schema rejects as unknown: each found one is removed and the config
 * validated again, so every missing key is named, not only the first.
 */
function missingKeys(file: string): string[] {
  // biome-ignore lint/suspicious/noExplicitAny: a parsed YAML document, walked by key path
  const raw = parseYaml(readFileSync(file, 'utf8')) as any;
  const missing: string[] = [];
  for (let i = 0; i < 20; i++) {
    try {
      validateConfig(raw, file);
      break;
    } catch (err) {
      const path = /: ([A-Za-z0-9_.[\]]+): unknown key/.exec((err as Error).message)?.[1];
      if (path === undefined) break; // fails for another reason: the test itself reports it
      missing.push(path);
      const parts = path.replace(/\[(\d+)\]/g, '.$1').split('.');
      let obj = raw;
      for (const p of parts.slice(0, -1)) obj = obj[p];
      delete obj[parts.at(-1)!];
    }
  }
  return missing;
}

const files = readdirSync(EXAMPLES).filter((f) => /\.ya?ml$/.test(f));

test('the five examples of issue 8 are there', () => {
  for (const f of [
    'nginx-to-kafka.yaml',
    'java-multiline.yaml',
    'kubernetes-cri.yaml',
    'sasl-ssl-managed.yaml',
    'mtls.yaml',
  ]) {
    assert.ok(files.includes(f), f);
  }
});

for (const f of files) {
  const file = join(EXAMPLES, f);
  const missing = missingKeys(file);
  // An example written ahead of a key (TLS, SASL, metrics) is a todo naming that key; it becomes a
  // real test by itself once the schema has the key.
  const todo = missing.length === 0 ? undefined : `needs ${missing.join(', ')}: not in the config schema yet`;
  test(`check-config examples/${f}`, { todo }, async () => {
    const r = await checkConfigCli(file, env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /valid/);
    startupCheck(file, env);
  });
}

interface DryRecord {
  message: string;
  '@timestamp': string;
  service: { name: string };
  log: { level?: string; flags?: string[] };
  kubernetes?: { namespace: string; pod: { name: string }; container: { name: string } };
  fields?: Record<string, unknown>;
}

/**
 * Runs an example for real on its sample log (examples/logs/): the example's config with only
 * data_dir, the include globs and start_at replaced, `run --dry-run`, records read from stdout.
 */
async function dryRun(
  example: string,
  samples: Record<string, string>,
  expected: number,
): Promise<DryRecord[]> {
  const dir = mkdtempSync(join(tmp, 'run-'));
  const config = parseYaml(readFileSync(join(EXAMPLES, example), 'utf8')) as {
    data_dir: string;
    sources: { name: string; include: string[]; start_at?: string }[];
  };
  config.data_dir = join(dir, 'data');
  for (const source of config.sources) {
    const rel = samples[source.name];
    source.include = rel === undefined ? [join(dir, 'none', '*.log')] : [join(dir, rel)];
    source.start_at = 'beginning';
  }
  for (const [name, rel] of Object.entries(samples)) {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    copyFileSync(join(EXAMPLES, 'logs', `${name}.log`), join(dir, rel));
  }
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(config));
  const agent = startAgent(['run', '--config', file, '--dry-run'], { NODE_NAME: 'node-1' });
  try {
    await waitFor(() => agent.stdout().split('\n').length > expected, 20_000, `${expected} records`);
  } finally {
    assert.equal(await agent.stop(), 0, agent.stderr());
  }
  return agent
    .stdout()
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as DryRecord);
}

test('nginx-to-kafka: access lines parsed into http fields; 4xx warn, 5xx error', async () => {
  const records = await dryRun('nginx-to-kafka.yaml', { 'nginx-access': 'nginx/access.log' }, 4);
  assert.equal(records.length, 4);
  const http = records.map(
    (r) => (r.fields?.['http'] as { response?: { status_code: number } } | undefined)?.response?.status_code,
  );
  assert.deepEqual(http, [200, 201, 404, 502]);
  assert.deepEqual(
    records.map((r) => r.log.level),
    ['info', 'info', 'warn', 'error'],
  );
  assert.equal(records[0]!['@timestamp'], '2026-11-26T13:00:00.000Z');
  assert.equal(records[0]!.service.name, 'nginx');
});

test('java-multiline: a stack trace with its Caused by is one record', async () => {
  const records = await dryRun('java-multiline.yaml', { orders: 'orders/orders.log' }, 4);
  assert.deepEqual(
    records.map((r) => r.log.level),
    ['info', 'error', 'warn', 'info'],
  );
  const trace = records[1]!.message;
  assert.match(trace, /^order 42 failed\njava\.lang\.IllegalStateException: payment declined\n\tat /);
  assert.match(trace, /\nCaused by: java\.net\.SocketTimeoutException: Read timed out\n/);
  assert.match(trace, /\t\.\.\. 12 more$/);
  assert.equal(records[1]!.fields?.['thread'], 'http-nio-8080-exec-3');
});

test('kubernetes-cri: CRI partial lines joined, JSON parsed, metadata from the kubelet path', async () => {
  const records = await dryRun(
    'kubernetes-cri.yaml',
    { pods: 'var/log/pods/shop_web-7d9f_0a1b2c3d-1111-2222-3333-444455556666/web/0.log' },
    3,
  );
  assert.equal(records.length, 3);
  assert.equal(records[0]!.message, 'listening');
  assert.equal(records[0]!.fields?.['port'], 8080, 'the JSON line is parsed');
  assert.equal(records[1]!.message, 'a line the runtime split into two pieces');
  assert.equal(records[2]!.message, 'plain text, not JSON');
  for (const r of records) {
    assert.equal(r.kubernetes?.namespace, 'shop');
    assert.equal(r.kubernetes?.pod.name, 'web-7d9f');
    assert.equal(r.kubernetes?.container.name, 'web');
    assert.equal(r.service.name, 'web', 'service from the container name');
  }
});
