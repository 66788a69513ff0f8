import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { BIN } from '../../support/agent-process.ts';

const dir = mkdtempSync(join(tmpdir(), 'logferry-bin-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let runs = 0;

/** Starts `run` (no broker listens: it keeps running); its command line once the agent started. */
async function runCommandLine(env: NodeJS.ProcessEnv): Promise<string[]> {
  const data = join(dir, `data-${++runs}`);
  const config = join(dir, `logferry-${runs}.yaml`);
  writeFileSync(
    config,
    [
      `data_dir: ${data}`,
      `sources: [{ name: app, include: ["${join(dir, '*.log')}"] }]`,
      'sink: { kafka: { brokers: ["127.0.0.1:1"], topic: t } }',
      'log: { level: error }',
    ].join('\n'),
  );
  const child = spawn(process.execPath, [BIN, 'run', '--config', config], {
    env: { ...process.env, ...env },
    stdio: 'ignore',
  });
  try {
    // The data directory is made by the agent, so bin/logferry.js is done with by then.
    const deadline = Date.now() + 30_000;
    while (!existsSync(data) && child.exitCode === null && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    assert.ok(existsSync(data), 'the agent started');
    return readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0');
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
}

test('run replaces itself with a small V8 young generation, same pid', {
  skip: process.platform !== 'linux',
}, async () => {
  const cmd = await runCommandLine({ NODE_OPTIONS: '' });
  assert.ok(cmd.includes('--max-semi-space-size=4'), cmd.join(' '));
  assert.ok(cmd.includes('run'));
});

test('LOGFERRY_NODE_DEFAULTS=0 or a size chosen by the user is left alone', {
  skip: process.platform !== 'linux',
}, async () => {
  assert.ok(!(await runCommandLine({ LOGFERRY_NODE_DEFAULTS: '0' })).includes('--max-semi-space-size=4'));
  const own = await runCommandLine({ NODE_OPTIONS: '--max-semi-space-size=8' });
  assert.ok(!own.includes('--max-semi-space-size=4'), own.join(' '));
});
