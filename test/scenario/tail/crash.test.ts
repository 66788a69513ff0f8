import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { TailEnv, waitFor } from './tail-env.ts';

const LINE_BYTES = 16; // "line-0000000042\n"
const line = (i: number) => `line-${String(i).padStart(10, '0')}`;

function startChild(env: TailEnv, out: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [join(import.meta.dirname, 'crash-child.ts')], {
    env: { ...process.env, LOGS: env.logs, DATA: env.data, OUT: out },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) resolve(child);
    });
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`child exited early (${code})`)));
  });
}

describe('crash safety', () => {
  let env: TailEnv;
  let child: ChildProcess | undefined;
  beforeEach(() => {
    env = new TailEnv();
  });
  afterEach(async () => {
    child?.kill('SIGKILL');
    await env.cleanup();
  });

  it('kill -9 during a write burst, then restart: every line at least once, duplicates only after the checkpoint', async () => {
    const out = join(env.root, 'delivered.txt');
    const logPath = env.path('app.log');
    child = await startChild(env, out);
    let written = 0;
    const burst = (n: number) => {
      let s = '';
      for (let k = 0; k < n; k++) s += `${line(written++)}\n`;
      appendFileSync(logPath, s);
    };
    // A writer keeps appending while the child reads; the kill lands in the middle of the stream.
    const writer = setInterval(() => burst(200), 2);
    try {
      await waitFor(() => existsSync(out) && readFileSync(out).length > 200_000, 10_000, 'child delivering');
      child.kill('SIGKILL');
      await new Promise((r) => child!.once('exit', r));
      await new Promise((r) => setTimeout(r, 50)); // more lines while the agent is down
    } finally {
      clearInterval(writer);
    }
    const ckPath = join(env.data, 'checkpoints.json');
    const ck = JSON.parse(readFileSync(ckPath, 'utf8')) as { entries: { offset: number }[] };
    const checkpointed = ck.entries[0].offset;
    const deliveredBefore = readFileSync(out, 'utf8').split('\n').filter(Boolean).length;
    assert.ok(checkpointed % LINE_BYTES === 0, 'checkpoint on a line boundary');
    assert.ok(checkpointed / LINE_BYTES <= deliveredBefore, 'checkpoint never ahead of delivery');
    assert.ok(deliveredBefore < written, 'killed before everything was read');
    child = await startChild(env, out);
    await waitFor(
      () => readFileSync(out, 'utf8').endsWith(`${line(written - 1)}\n`),
      15_000,
      'restart delivers to the end',
    );
    child.kill('SIGKILL');
    const delivered = readFileSync(out, 'utf8').split('\n').filter(Boolean);
    const counts = new Map<string, number>();
    for (const l of delivered) counts.set(l, (counts.get(l) ?? 0) + 1);
    const firstDuplicateAllowed = checkpointed / LINE_BYTES;
    for (let i = 0; i < written; i++) {
      const c = counts.get(line(i)) ?? 0;
      assert.ok(c >= 1, `line ${i} delivered`);
      if (c > 1)
        assert.ok(
          i >= firstDuplicateAllowed,
          `duplicate ${i} only after the checkpoint ${firstDuplicateAllowed}`,
        );
      assert.ok(c <= 2, `line ${i} delivered at most twice`);
    }
    const duplicates = delivered.length - written;
    assert.ok(
      duplicates <= deliveredBefore - firstDuplicateAllowed,
      'duplicates only from the unacknowledged window',
    );
  });
});
