import { CompressedDataError } from '../../model/errors.ts';
import { type Codec, loadNative } from './codec.ts';

/**
 * Kafka's snappy is snappy-java's "xerial" stream, as the Java producer writes it with
 * SnappyOutputStream: a 16-byte header (magic 0x82 'SNAPPY' 0x00, version 1, compatible version 1,
 * big-endian int32s), then for each block of at most 32 KiB of input a big-endian int32 length and
 * one raw snappy block. This is neither raw snappy nor Google's snappy framing format (which the
 * `snappy` package's streams write), so the framing is done here around its raw block codec.
 *
 * Reading accepts what other producers write too: concatenated xerial streams (a header again
 * between blocks, as snappy-java's reader allows) and one raw snappy block without a header.
 *
 * Blocks are compressed one after another with the async API: measured, that keeps the event
 * loop free at the same CPU cost as one synchronous call per batch, while starting all blocks at
 * once spread them over the thread pool at ~60% more CPU per byte.
 */

type SnappyNapi = typeof import('snappy');

export const XERIAL_HEADER = Buffer.from([
  0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1,
]);
const XERIAL_MAGIC_LENGTH = 8;
/** snappy-java's SnappyOutputStream default block size, which Kafka's producer uses. */
export const XERIAL_BLOCK_SIZE = 32 * 1024;

let snappy: SnappyNapi | undefined;
function lib(): SnappyNapi {
  snappy ??= loadNative<SnappyNapi>('snappy', 'snappy');
  return snappy;
}

function hasXerialMagic(data: Uint8Array, at: number): boolean {
  if (data.length - at < XERIAL_HEADER.length) return false;
  for (let i = 0; i < XERIAL_MAGIC_LENGTH; i++) if (data[at + i] !== XERIAL_HEADER[i]) return false;
  return true;
}

function corrupt(detail: string, cause?: unknown): CompressedDataError {
  return new CompressedDataError(`snappy: ${detail}; the batch is truncated or corrupt`, { cause });
}

async function uncompressBlock(block: Buffer): Promise<Buffer> {
  try {
    return (await lib().uncompress(block, { asBuffer: true })) as Buffer;
  } catch (cause) {
    throw corrupt(`a block did not decode (${(cause as Error).message})`, cause);
  }
}

export const snappyCodec: Codec = {
  name: 'snappy',
  async compress(data) {
    const s = lib();
    const parts: Buffer[] = [XERIAL_HEADER];
    let total = XERIAL_HEADER.length;
    for (let at = 0; at < data.length; at += XERIAL_BLOCK_SIZE) {
      const block = await s.compress(data.subarray(at, at + XERIAL_BLOCK_SIZE));
      const length = Buffer.allocUnsafe(4);
      length.writeInt32BE(block.length, 0);
      parts.push(length, block);
      total += 4 + block.length;
    }
    return Buffer.concat(parts, total);
  },
  async decompress(data) {
    if (!hasXerialMagic(data, 0)) return uncompressBlock(data);
    const parts: Buffer[] = [];
    let at = 0;
    while (at < data.length) {
      if (hasXerialMagic(data, at)) {
        at += XERIAL_HEADER.length;
        continue;
      }
      if (data.length - at < 4) throw corrupt('a block length is cut short');
      const length = data.readInt32BE(at);
      at += 4;
      if (length < 0 || length > data.length - at) throw corrupt(`a block claims ${length} bytes`);
      parts.push(await uncompressBlock(data.subarray(at, at + length)));
      at += length;
    }
    return Buffer.concat(parts);
  },
};
