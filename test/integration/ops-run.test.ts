/**
 * `run` as an operator sees it, without a broker: bad configs end it with exit 3 and one line; an
 * unreachable broker does not end it (the log says why, /readyz answers 503, /metrics is scraped
 * and parsed while it runs); an unreadable file is logged and the others are still read.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { freePorts } from '../kafka/index.ts';
import { BIN, runCli, startAgent, waitFor } from '../support/agent-process.ts';
import { parsePrometheusText, sampleValue } from '../unit/observe/prom-text.ts';

const root = mkdtempSync(join(tmpdir(), 'logferry-ops-'));
chmodSync(root, 0o755);
after(() => rmSync(root, { recursive: true, force: true }));

function httpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

function config(dir: string, extra = ''): string {
  const p = join(dir, 'c.yaml');
  writeFileSync(
    p,
    `data_dir: ${join(dir, 'data')}\nsources:\n  - name: app\n    include: ["${dir}/logs/*.log"]\nsink:\n  kafka:\n    brokers: ["127.0.0.1:1"]\n    topic: t\n    connection_timeout_ms: 200\n    retry: { initial_ms: 100, max_ms: 500 }\nspool:\n  enabled: false\nshutdown:\n  timeout_ms: 1000\n${extra}`,
  );
  return p;
}

test('run with a bad config exits 3 with one line: unknown key, wrong type, bad regex, missing file', async () => {
  const dir = join(root, 'bad');
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const good = config(dir);
  const text = readFileSync(good, 'utf8');
  const cases: [string, string, RegExp][] = [
    [
      'unknown key',
      text.replace('  timeout_ms: 1000\n', '  timeout_ms: 1000\n  grace: 3\n'),
      /shutdown\.grace: unknown key/,
    ],
    ['wrong type', text.replace('timeout_ms: 1000', 'timeout_ms: soon'), /shutdown\.timeout_ms/],
    [
      'bad regex',
      text.replace('  - name: app\n', '  - name: app\n    parser: regex\n    regex: "(?<message>["\n'),
      /regex is not a valid regular expression/,
    ],
  ];
  for (const [what, body, message] of cases) {
    const file = join(dir, `${what.replace(/ /g, '-')}.yaml`);
    writeFileSync(file, body);
    assert.notEqual(body, text, what);
    const r = await runCli(['run', '--config', file]);
    assert.equal(r.code, 3, `${what}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, `${what}: ${r.stderr}`);
    assert.match(r.stderr, message, what);
  }
  const missing = await runCli(['run', '--config', join(dir, 'nope.yaml')]);
  assert.equal(missing.code, 3);
  assert.match(missing.stderr, /no such file/);
});

test('no broker: run keeps running, logs why in one line, /readyz is 503, /metrics parses', async () => {
  const dir = join(root, 'nobroker');
  mkdirSync(join(dir, 'logs'), { recursive: true });
  writeFileSync(join(dir, 'logs', 'a.log'), Array.from({ length: 10 }, (_, i) => `line ${i}\n`).join(''));
  const [port] = await freePorts(1);
  const base = `http://127.0.0.1:${port}`;
  const agent = startAgent(['run', '--config', config(dir)], {
    LOGFERRY_METRICS_LISTEN: `127.0.0.1:${port}`,
  });
  try {
    await waitFor(
      async () => (await httpGet(`${base}/healthz`).catch(() => ({ status: 0 }))).status === 200,
      15_000,
      '/healthz',
    );
    const problem = () =>
      agent
        .stderr()
        .split('\n')
        .filter((l) => l.includes('127.0.0.1:1') && /"level":(40|50)/.test(l));
    await waitFor(() => problem().length > 0, 15_000, 'a warning naming the unreachable broker');
    const line = JSON.parse(problem()[0]) as { msg: string };
    assert.match(line.msg, /broker|Kafka/i);
    // Ready never comes: the broker stays away and there is no spool to hold records.
    let ready = { status: 0, body: '' };
    await waitFor(
      async () => {
        ready = await httpGet(`${base}/readyz`);
        return /and no spool/.test(ready.body);
      },
      15_000,
      '/readyz naming the broker',
    );
    assert.equal(ready.status, 503, ready.body);
    assert.match(
      (JSON.parse(ready.body) as { reason: string }).reason,
      /^broker (connecting|disconnected) and no spool/,
    );

    await waitFor(
      async () => {
        const m = parsePrometheusText((await httpGet(`${base}/metrics`)).body);
        return sampleValue(m, 'logferry_source_lines_read_total', { source: 'app' }) === 10;
      },
      15_000,
      'lines_read 10 in /metrics',
    );
    const metrics = parsePrometheusText((await httpGet(`${base}/metrics`)).body);
    assert.equal(metrics.get('logferry_source_lines_read_total')?.type, 'counter');
    assert.equal(sampleValue(metrics, 'logferry_broker_state', { state: 'connected' }), 0);
    assert.equal(metrics.get('logferry_sink_records_sent_total')?.type, 'counter');
    assert.ok(
      sampleValue(metrics, 'logferry_file_lag_bytes', {}) > 0,
      'nothing acknowledged: the file is behind',
    );
    assert.equal(sampleValue(metrics, 'logferry_build_info', {}), 1);
    assert.equal(agent.child.exitCode, null, 'still running');
    assert.equal(await agent.stop(), 0, agent.stderr());
  } finally {
    await agent.stop();
  }
});

test('an unreadable include file is logged and the other files are still read', async (t) => {
  const dir = join(root, 'unreadable');
  mkdirSync(join(dir, 'logs'), { recursive: true });
  chmodSync(dir, 0o777);
  writeFileSync(join(dir, 'logs', 'ok.log'), 'fine 1\nfine 2\n');
  writeFileSync(join(dir, 'logs', 'secret.log'), 'hidden\n');
  chmodSync(join(dir, 'logs', 'secret.log'), 0o000);
  const cfg = config(dir);
  // root reads any file: run the agent as nobody then.
  const asNobody = process.getuid?.() === 0;
  if (asNobody) for (const p of [dir, join(dir, 'logs'), cfg]) chmodSync(p, 0o777);
  const child = spawn(process.execPath, [BIN, 'run', '--config', cfg, '--dry-run'], {
    env: { ...process.env, LOGFERRY_METRICS_LISTEN: '127.0.0.1:0' },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(asNobody ? { uid: 65534, gid: 65534 } : {}),
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  const exited = once(child, 'exit');
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  await waitFor(
    () => out.split('\n').length > 2 && err.includes('cannot open log file'),
    15_000,
    'ok.log shipped and secret.log reported',
  );
  const warn = err.split('\n').find((l) => l.includes('cannot open log file')) ?? '';
  assert.match(warn, /"path":"[^"]*secret\.log"/);
  assert.match(warn, /"code":"EACCES"/);
  assert.match(warn, /read access/, 'the message names the fix');
  // Counted as a metric too: one line in the log, a counter that keeps the count.
  const port = /"port":(\d+)[^\n]*metrics and health endpoint listening/.exec(err)?.[1];
  assert.ok(port, 'metrics port logged');
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const count = /^logferry_tail_file_open_errors_total (\d+)/m.exec(metrics)?.[1];
  assert.ok(Number(count) >= 1, `logferry_tail_file_open_errors_total is ${count}`);
  assert.deepEqual(
    out
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { message: string }).message),
    ['fine 1', 'fine 2'],
  );
  child.kill('SIGTERM');
  const [code] = (await exited) as [number | null];
  assert.equal(code, 0, err);
});

test('a second agent on the same data_dir waits, then exits 9 with one line; once the first stops, one can start', async () => {
  const dir = join(root, 'locked');
  mkdirSync(join(dir, 'logs'), { recursive: true });
  // shutdown.timeout_ms 1000: the second agent waits for it plus 5 s before giving up.
  const file = config(dir);
  const first = startAgent(['run', '--config', file]);
  try {
    await waitFor(() => first.stderr().includes('agent starting'), 15_000, 'the first agent to start');
    const t0 = Date.now();
    const second = await runCli(['run', '--config', file]);
    assert.equal(second.code, 9, second.stderr);
    assert.ok(Date.now() - t0 >= 5_000, 'it waited for the first agent to let go');
    assert.match(second.stderr, /in use by another logferry agent: waiting/);
    const last = second.stderr.trim().split('\n').at(-1) as string;
    assert.match(last, /data_dir .*\/data is in use by another logferry agent \(\{"pid":\d+/);
    assert.match(last, /give each agent its own data_dir/);
    assert.equal(first.child.exitCode, null, 'the first agent runs on');
    assert.equal(await first.stop(), 0, first.stderr());
    const third = startAgent(['run', '--config', file]);
    await waitFor(
      () => third.stderr().includes('agent starting'),
      15_000,
      'an agent after the first stopped',
    );
    assert.equal(await third.stop(), 0, third.stderr());
  } finally {
    await first.stop();
  }
});
