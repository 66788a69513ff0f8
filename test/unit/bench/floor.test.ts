import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { Measured, Variant } from '../../../bench/floor-child.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'bench-floor-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const child = path.resolve(import.meta.dirname, '../../../bench/floor-child.ts');
const lz4 = createRequire(import.meta.url)('lz4-napi') as typeof import('lz4-napi');

/** Runs floor-child over `file`; returns what it reported and the bytes its socket sent. */
async function runFloor(variant: Variant, file: string): Promise<{ m: Measured; sent: Buffer }> {
  const parts: Buffer[] = [];
  const sink = net.createServer((c) => c.on('data', (d: Buffer) => parts.push(d)));
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
  const port = (sink.address() as net.AddressInfo).port;
  const p = spawn(process.execPath, [child, variant, file, String(port)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  p.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const code = await new Promise((r) => p.on('exit', r));
  await new Promise((r) => sink.close(r));
  assert.equal(code, 0);
  return { m: JSON.parse(out) as Measured, sent: Buffer.concat(parts) };
}

describe('bench floor program', () => {
  // 3,000 lines of 100 bytes: one batch of 300,000 bytes, below the 512 KiB batch.
  const line = `${'x'.repeat(99)}\n`;
  const file = path.join(dir, 'app.log');
  writeFileSync(file, line.repeat(3000));

  it('copy: counts every line and sends the file byte for byte, and reports its peak memory', async () => {
    const { m, sent } = await runFloor('copy', file);
    assert.equal(m.lines, 3000);
    assert.ok(sent.equals(readFileSync(file)));
    assert.ok(m.hwmMiB > 10 && m.hwmMiB >= m.anonMiB, JSON.stringify(m));
  });

  for (const variant of ['lz4-pool', 'lz4-main'] as const) {
    it(`${variant}: sends the batch lz4-compressed (decompresses to the file)`, async () => {
      const { m, sent } = await runFloor(variant, file);
      assert.equal(m.lines, 3000);
      assert.ok(sent.length < 300_000 / 10, `compressed to ${sent.length} bytes`);
      assert.ok(lz4.uncompressSync(sent).equals(readFileSync(file)));
    });
  }
});
