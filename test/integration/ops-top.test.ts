/**
 * `logferry top` rendered against a running agent (the real CLI, --dry-run so no broker is
 * needed), once with --once and once as a stream of plain frames to a pipe.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { freePorts } from '../kafka/index.ts';
import { type AgentProcess, runCli, startAgent, waitFor } from '../support/agent-process.ts';

const dir = mkdtempSync(join(tmpdir(), 'logferry-top-'));
const logFile = join(dir, 'logs', 'web.log');
let agent: AgentProcess;
let url = '';

before(async () => {
  mkdirSync(join(dir, 'logs'));
  writeFileSync(logFile, Array.from({ length: 2000 }, (_, i) => `line ${i}\n`).join(''));
  const cfg = join(dir, 'c.yaml');
  writeFileSync(
    cfg,
    `data_dir: ${join(dir, 'data')}\nsources:\n  - name: web\n    include: ["${dir}/logs/*.log"]\nsink:\n  kafka:\n    brokers: ["127.0.0.1:1"]\n    topic: t\n`,
  );
  const [port] = await freePorts(1);
  url = `127.0.0.1:${port}`;
  agent = startAgent(['run', '--config', cfg, '--dry-run'], { LOGFERRY_METRICS_LISTEN: url });
  await waitFor(() => agent.stdout().split('\n').length > 2000, 30_000, 'the first 2000 records');
});

after(async () => {
  await agent?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('top --once shows the agent, its file with bytes behind, and rates measured over the interval', async () => {
  // Lines keep arriving during the interval, so the "in" rate is not zero.
  const timer = setInterval(() => appendFileSync(logFile, 'more\n'.repeat(200)), 50);
  let r: Awaited<ReturnType<typeof runCli>>;
  try {
    r = await runCli(['top', '--url', url, '--once', '--interval', '1']);
  } finally {
    clearInterval(timer);
  }
  assert.equal(r.code, 0, r.stderr);
  const text = r.stdout;
  assert.match(text, /^logferry\s+0\.\d+\.\d+\s+up \S+\s+broker connected$/m);
  const inRate = /^in\s+(\S+) lines\/s/m.exec(text);
  assert.ok(inRate, text);
  assert.ok(Number.parseFloat(inRate[1]) > 0, `lines in per second: ${inRate[1]}`);
  assert.match(text, /out\s+\S+ records\/s/);
  assert.match(text, /^send avg/m);
  assert.match(text, /^paused by backpressure \S+ \(total \S+\)\s+memory/m);
  assert.match(text, /^spool \d+ B in \d+ segments/m);
  assert.match(text, /^FILE\s+SOURCE\s+BEHIND$/m);
  const row = text.split('\n').find((l) => l.includes('web.log'));
  assert.ok(row, text);
  assert.match(row, /\s+web\s+\d+(\.\d+)? (B|KiB|MiB)$/);
  assert.ok(!text.includes('\u001b'), 'no escape codes when stdout is not a terminal');
});

test('top without --once prints plain frames one after another to a pipe and stops on SIGINT', async () => {
  const top = startAgent(['top', '--url', url, '--interval', '0.2']);
  await waitFor(() => (top.stdout().match(/^--- /gm) ?? []).length >= 3, 10_000, 'three frames');
  top.child.kill('SIGINT');
  const [code] = (await once(top.child, 'exit')) as [number | null];
  assert.equal(code, 0, top.stderr());
  const frames = top
    .stdout()
    .split(/^--- .*\n/m)
    .filter((f) => f !== '');
  assert.ok(frames.length >= 3);
  assert.match(frames[0], /since start/, 'the first frame has no interval yet');
  for (const f of frames.slice(1)) assert.match(f, /web\.log/);
});

test('top against an address where no agent listens exits 1 with one line', async () => {
  const [port] = await freePorts(1);
  const r = await runCli(['top', '--url', `127.0.0.1:${port}`, '--once']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no agent answers at http:\/\/127\.0\.0\.1:\d+\/status \(ECONNREFUSED\)/);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
});
