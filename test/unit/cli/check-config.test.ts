import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from '../../support/agent-process.ts';

const dir = mkdtempSync(join(tmpdir(), 'logferry-cfg-'));
const write = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

const valid = `
data_dir: ./data
sources:
  - name: app
    include: ["/var/log/app/*.log"]
    service: checkout
sink:
  kafka:
    brokers: ["127.0.0.1:9092"]
    topic: logs
`;

test('check-config exits 0 for a valid YAML file and for the same as JSON', async () => {
  const r = await runCli(['check-config', write('ok.yaml', valid)]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /valid/);
  const json = JSON.stringify({
    sources: [{ name: 'app', include: ['/tmp/*.log'] }],
    sink: { kafka: { brokers: ['127.0.0.1:9092'], topic: 'logs' } },
  });
  const j = await runCli(['check-config', write('ok.json', json)]);
  assert.equal(j.code, 0, j.stderr);
});

test('an unknown key is rejected with one line naming its path', async () => {
  const r = await runCli([
    'check-config',
    write('unknown.yaml', valid.replace('service: checkout', 'servise: checkout')),
  ]);
  assert.equal(r.code, 3);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /sources\[0\]\.servise: unknown key/);
});

test('a wrong type is rejected with one line naming its path', async () => {
  const r = await runCli(['check-config', write('type.yaml', valid.replace('topic: logs', 'topic: [1, 2]'))]);
  assert.equal(r.code, 3);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /sink\.kafka\.topic/);
});

test('a missing file and broken YAML are one-line errors too', async () => {
  const missing = await runCli(['check-config', join(dir, 'nope.yaml')]);
  assert.equal(missing.code, 3);
  assert.match(missing.stderr, /no such file/);
  const broken = await runCli(['check-config', write('broken.yaml', 'sources: [\n  - name: : :')]);
  assert.equal(broken.code, 3);
  assert.equal(broken.stderr.trim().split('\n').length, 1, broken.stderr);
});

test('an unset environment variable in a value is named', async () => {
  const r = await runCli([
    'check-config',
    write('env.yaml', valid.replace('topic: logs', `topic: $${'{'}LOGFERRY_TEST_UNSET_VAR}`)),
  ]);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /LOGFERRY_TEST_UNSET_VAR is not set/);
});

test('no command is a usage error', async () => {
  const r = await runCli([]);
  assert.equal(r.code, 2);
});

test('check-config prints the resolved config with defaults filled and secrets redacted, then the verdict', async () => {
  const withSecret = valid.replace(
    'service: checkout',
    'service: checkout\n    fields: { team: payments, token: s3cr3t-value }',
  );
  const r = await runCli(['check-config', write('resolved.yaml', withSecret)]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /start_at: beginning/, 'a default the file did not set');
  assert.match(r.stdout, /shutdown:\n\s+timeout_ms: 25000/);
  assert.match(r.stdout, /team: payments/);
  assert.match(r.stdout, /token: "?\[redacted\]"?/);
  assert.doesNotMatch(r.stdout, /s3cr3t-value/);
  assert.match(r.stdout.trimEnd().split('\n').at(-1) ?? '', /: valid \(1 source/);
  const j = await runCli([
    'check-config',
    '--format',
    'json',
    '--quiet',
    write('resolved2.yaml', withSecret),
  ]);
  assert.equal(j.code, 0, j.stderr);
  assert.equal(j.stdout.trim().split('\n').length, 1, '--quiet keeps the verdict only');
  const json = await runCli(['check-config', '--format', 'json', write('resolved3.yaml', withSecret)]);
  const doc = JSON.parse(json.stdout.slice(0, json.stdout.lastIndexOf('}') + 1)) as {
    sources: { fields: Record<string, string> }[];
  };
  assert.equal(doc.sources[0].fields['token'], '[redacted]');
});

test('a bad regex, parser chain or key template fails check-config, not only run', async () => {
  const cases: [string, string, RegExp][] = [
    [
      'regex.yaml',
      'service: checkout\n    parser: regex\n    regex: "(?<message>.*"',
      /regex is not a valid regular expression/,
    ],
    [
      'multiline.yaml',
      'service: checkout\n    multiline: { start_pattern: "[" }',
      /start_pattern|regular expression/,
    ],
    ['chain.yaml', 'service: checkout\n    parser: [json, cri]', /cri/],
    ['path.yaml', 'service_from_path: "(unclosed"', /service_from_path is not a valid regular expression/],
    ['key.yaml', 'service: checkout\n    key: "{unclosed"', /key/],
  ];
  for (const [name, replacement, message] of cases) {
    const r = await runCli(['check-config', write(name, valid.replace('service: checkout', replacement))]);
    assert.equal(r.code, 3, `${name}: ${r.stdout}${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, message, name);
    assert.match(r.stderr, /source app/, `${name} names the source`);
  }
});

test('every command answers --help with examples', async () => {
  for (const cmd of ['run', 'check-config', 'version', 'lag', 'top', 'test-connection']) {
    const r = await runCli([cmd, '--help']);
    assert.equal(r.code, 0, `${cmd}: ${r.stderr}`);
    assert.match(r.stdout, /Examples:/, cmd);
  }
});
