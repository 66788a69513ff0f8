import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';

/** Inputs every codec must round-trip: empty, small, about 1 MiB of JSON logs, and 1 MiB of noise. */
export function sampleInputs(): { name: string; data: Buffer }[] {
  return [
    { name: 'empty', data: Buffer.alloc(0) },
    { name: 'small', data: Buffer.from('{"message":"hello","level":"info"}') },
    { name: '1 MiB of JSON log records', data: jsonLogs(1 << 20) },
    { name: '1 MiB incompressible', data: randomBytes(1 << 20) },
  ];
}

/** JSON log lines of about `bytes` bytes, each preceded by a few bytes as in a record batch. */
export function jsonLogs(bytes: number): Buffer {
  const parts: Buffer[] = [];
  let total = 0;
  for (let i = 0; total < bytes; i++) {
    const line = Buffer.from(
      JSON.stringify({
        '@timestamp': new Date(1_767_225_600_000 + i * 7).toISOString(),
        level: i % 7 === 0 ? 'warn' : 'info',
        message: `GET /api/v1/orders/${i * 31} status=200 duration_ms=${(i % 97) * 1.5}`,
        trace_id: randomBytes(16).toString('hex'),
        host: { name: 'web-7f9c4b6d8-x2kq9' },
        log: { file: { path: '/var/log/app.log' }, offset: i * 180 },
      }),
    );
    parts.push(Buffer.from([0x80 | (i & 0x7f), 0x01, 0x00]), line);
    total += line.length + 3;
  }
  return Buffer.concat(parts, total).subarray(0, bytes);
}

/** Pure-JS reference implementations (independent of the native codecs under test). */
export interface Lz4js {
  compress(src: Uint8Array): Uint8Array;
  decompress(src: Uint8Array): Uint8Array;
}
export interface SnappyJs {
  compress(src: Uint8Array): Uint8Array;
  uncompress(src: Uint8Array): Uint8Array;
}
const requireJs = createRequire(import.meta.url);
export const lz4js = requireJs('lz4js') as Lz4js;
export const snappyjs = requireJs('snappyjs') as SnappyJs;
