import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openSpool, range, seqOf, tempDir } from './helpers.ts';

const child = join(fileURLToPath(new URL('.', import.meta.url)), 'fixtures', 'append-burst.ts');

/** Runs the appender from `from`, kills it with SIGKILL after `killAfter` resolved appends; returns the highest one reported. */
function runAndKill(dir: string, from: number, killAfter: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [child, dir, String(from)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    let resolved = 0;
    let highest = from - 1;
    let stderr = '';
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`appender did not reach ${killAfter} appends in time: ${stderr}`));
    }, 30_000);
    proc.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    proc.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        nl = buf.indexOf('\n');
        if (line === 'ready') continue;
        highest = Math.max(highest, Number(line));
        if (++resolved === killAfter) proc.kill('SIGKILL');
      }
    });
    proc.on('exit', (_code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL') reject(new Error(`appender exited by itself: ${stderr}`));
      else resolve(highest);
    });
  });
}

test('SIGKILL during an append burst: every append that resolved is there after reopen, in order', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  let next = 0;
  for (const killAfter of [40, 25, 60]) {
    const highest = await runAndKill(dir, next, killAfter);
    const spool = await openSpool(dir, { maxBytes: 64 * 1024 * 1024, segmentBytes: 512 * 1024 });
    const seen: number[] = [];
    for await (const b of spool.batches()) seen.push(seqOf(b));
    t.diagnostic(
      `killed after ${highest}: ${seen.length} frames, ${spool.damage.length} damaged ranges (${spool.damage.map((d) => d.reason).join(',')})`,
    );
    await spool.close();
    // Frames written but not yet reported may be there too; all of them are contiguous and ordered.
    assert.ok(
      seen.length >= highest + 1,
      `lost a resolved append: have ${seen.length}, ${highest} was reported`,
    );
    assert.deepEqual(seen, range(0, seen.length), 'FIFO with no gap and no duplicate');
    next = seen.length;
  }
});
