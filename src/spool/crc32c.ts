/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of spool frames.
 * Node's zlib.crc32 is CRC-32/IEEE, a different polynomial, so it cannot be used here.
 *
 * Replay checks every byte it sends, so the checksum bounds replay speed: the N-API package
 * @node-rs/crc32 (prebuilt, uses the CPU's CRC32 instruction) runs at GB/s; where its binary
 * cannot load, the table-driven TypeScript below (slicing-by-8, a few hundred MB/s) takes over.
 * Both give identical results (the unit tests compare them).
 */
import { createRequire } from 'node:module';

const POLY = 0x82f63b78;

const TABLES = buildTables();
const T0 = TABLES[0];
const T1 = TABLES[1];
const T2 = TABLES[2];
const T3 = TABLES[3];
const T4 = TABLES[4];
const T5 = TABLES[5];
const T6 = TABLES[6];
const T7 = TABLES[7];

function buildTables(): Int32Array[] {
  const tables: Int32Array[] = [];
  const t0 = new Int32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t0[i] = c;
  }
  tables.push(t0);
  for (let t = 1; t < 8; t++) {
    const prev = tables[t - 1];
    const next = new Int32Array(256);
    for (let i = 0; i < 256; i++) next[i] = (prev[i] >>> 8) ^ t0[prev[i] & 0xff];
    tables.push(next);
  }
  return tables;
}

/** The table-driven CRC-32C (slicing-by-8); `previous` continues an earlier checksum. */
export function crc32cTable(buf: Uint8Array, previous = 0): number {
  let c = ~previous;
  let i = 0;
  const n = buf.length;
  const end8 = n - (n & 7);
  while (i < end8) {
    const a = (buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24)) ^ c;
    const b = buf[i + 4] | (buf[i + 5] << 8) | (buf[i + 6] << 16) | (buf[i + 7] << 24);
    c =
      T7[a & 0xff] ^
      T6[(a >>> 8) & 0xff] ^
      T5[(a >>> 16) & 0xff] ^
      T4[a >>> 24] ^
      T3[b & 0xff] ^
      T2[(b >>> 8) & 0xff] ^
      T1[(b >>> 16) & 0xff] ^
      T0[b >>> 24];
    i += 8;
  }
  while (i < n) c = T0[(c ^ buf[i++]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

type Crc32c = (buf: Uint8Array, previous?: number) => number;

function loadNative(): Crc32c | undefined {
  try {
    const mod = createRequire(import.meta.url)('@node-rs/crc32') as {
      crc32c?: (b: Uint8Array, p?: number) => number;
    };
    const fn = mod.crc32c;
    if (typeof fn !== 'function' || fn(Buffer.from('123456789')) !== 0xe3069283) return undefined;
    return (buf, previous = 0) => fn(buf, previous) >>> 0;
  } catch {
    return undefined;
  }
}

const native = loadNative();

/** Which implementation `crc32c` uses: `native` (@node-rs/crc32) or `table`. */
export const crc32cImplementation: 'native' | 'table' = native !== undefined ? 'native' : 'table';

/**
 * CRC-32C of `buf`, continuing from `previous` (the result of an earlier call over the bytes
 * before `buf`), so a checksum can span several buffers without concatenating them.
 */
export const crc32c: Crc32c = native ?? crc32cTable;
