import { createRequire } from 'node:module';
import type kafkajsTypes from 'kafkajs';
import type { Codec } from './codec.ts';
import { gzipCodec } from './gzip.ts';
import { lz4Codec } from './lz4.ts';
import { snappyCodec } from './snappy.ts';
import { zstdCodec } from './zstd.ts';

/**
 * Compression of record batches. kafkajs ships gzip only; `registerCodecs()` adds snappy, lz4 and
 * zstd to its codec table (a process-wide table inside kafkajs), so every producer and consumer of
 * this process can use them, and puts our gzip (the same zlib settings) in place of kafkajs's so
 * that `compressionStats` counts every codec. Call it once before producing; calling it again
 * changes nothing.
 *
 *   sink config `compression` --toKafkajsCompression--> kafkajs CompressionTypes value
 *                                                         |
 *   kafkajs record batch encoder --CompressionCodecs[type]()--> { compress, decompress } below
 */

export type { Codec } from './codec.ts';
export type { CompressionName } from './codecs-config.ts';

import type { CompressionName } from './codecs-config.ts';

export const COMPRESSION_NAMES: readonly CompressionName[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

type Kafkajs = typeof kafkajsTypes;
let kafkajsLib: Kafkajs | undefined;

/**
 * kafkajs, loaded at its first use: an agent on the built-in client never loads it (17 MiB of RSS
 * at import).
 */
function kafkajs(): Kafkajs {
  kafkajsLib ??= createRequire(import.meta.url)('kafkajs') as Kafkajs;
  return kafkajsLib;
}

/** kafkajs's CompressionTypes value for a configured compression name. */
export function toKafkajsCompression(name: CompressionName): kafkajsTypes.CompressionTypes {
  const { CompressionTypes } = kafkajs();
  switch (name) {
    case 'none':
      return CompressionTypes.None;
    case 'gzip':
      return CompressionTypes.GZIP;
    case 'snappy':
      return CompressionTypes.Snappy;
    case 'lz4':
      return CompressionTypes.LZ4;
    case 'zstd':
      return CompressionTypes.ZSTD;
  }
}

/** Every codec of ours by name ('none' has none); used by the benchmark, tests and check-config. */
export const codecs: Readonly<Record<Exclude<CompressionName, 'none'>, Codec>> = {
  gzip: gzipCodec,
  snappy: snappyCodec,
  lz4: lz4Codec,
  zstd: zstdCodec,
};

/** What kafkajs calls: `compress` gets its Encoder (whose `buffer` is the encoded records). */
interface KafkajsCodec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

/**
 * Totals over every batch kafkajs compressed or decompressed through our codecs in this process
 * (a batch kafkajs re-sends after an error is compressed, and counted, again). Plain numbers for
 * the metrics stage: the ratio is uncompressed_bytes / compressed_bytes.
 */
export const compressionStats = {
  batches_compressed: 0,
  uncompressed_bytes: 0,
  compressed_bytes: 0,
  batches_decompressed: 0,
};

/** Counts one compressed batch in `compressionStats`, whoever compressed it. */
export function countCompressed(inputBytes: number, outputBytes: number): void {
  compressionStats.batches_compressed++;
  compressionStats.uncompressed_bytes += inputBytes;
  compressionStats.compressed_bytes += outputBytes;
}

function adapt(codec: Codec): () => KafkajsCodec {
  // kafkajs calls the factory once per produce request and partition, so it hands out one object.
  const adapted: KafkajsCodec = {
    async compress(encoder) {
      const input = encoder.buffer;
      const output = await codec.compress(input);
      countCompressed(input.length, output.length);
      return output;
    },
    decompress(buffer) {
      compressionStats.batches_decompressed++;
      return codec.decompress(buffer);
    },
  };
  return () => adapted;
}

/** Adds snappy, lz4 and zstd to kafkajs and swaps in our gzip. Idempotent. */
let registered = false;

export function registerCodecs(): void {
  // Once only: a later call must not replace codecs someone wrapped after the first (metrics, tests).
  if (registered) return;
  registered = true;
  const { CompressionCodecs, CompressionTypes } = kafkajs();
  CompressionCodecs[CompressionTypes.GZIP] = adapt(gzipCodec);
  CompressionCodecs[CompressionTypes.Snappy] = adapt(snappyCodec);
  CompressionCodecs[CompressionTypes.LZ4] = adapt(lz4Codec);
  CompressionCodecs[CompressionTypes.ZSTD] = adapt(zstdCodec);
}

/**
 * Loads the codec's library and round-trips a few bytes, so a platform without a native binary is
 * reported at startup (or by check-config) rather than at the first batch. Throws
 * CodecUnavailableError.
 */
export async function assertCodecAvailable(name: CompressionName): Promise<void> {
  if (name === 'none') return;
  const codec = codecs[name];
  await codec.decompress(await codec.compress(Buffer.from('logferry')));
}
