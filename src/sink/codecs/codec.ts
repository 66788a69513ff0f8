import { createRequire } from 'node:module';
import { CodecUnavailableError } from '../../model/errors.ts';

/**
 * One compression codec for Kafka record batches: the bytes in, the codec's framed bytes out.
 * Both directions are asynchronous and run off the event loop (libuv thread pool) where the
 * library allows, because a 1 MiB batch takes milliseconds to compress.
 */
export interface Codec {
  readonly name: string;
  compress(data: Buffer): Promise<Buffer>;
  decompress(data: Buffer): Promise<Buffer>;
  /**
   * Optional, for codecs fast enough to run on the event loop (lz4, zstd at level 1: about a
   * millisecond for a 512 KiB batch): the same bytes as `compress`, at once, so that a closing batch
   * can be compressed from a reused buffer.
   */
  compressSync?(data: Uint8Array): Buffer;
  /** With `compressSync`: the same as `decompress`, at once. */
  decompressSync?(data: Buffer): Buffer;
}

const requireNative = createRequire(import.meta.url);

/**
 * Loads a native codec package on first use, so a platform without its prebuilt binary fails only
 * when that codec is chosen, with a message that names the way out.
 */
export function loadNative<T>(pkg: string, codec: string): T {
  try {
    return requireNative(pkg) as T;
  } catch (cause) {
    const err = new CodecUnavailableError(
      `compression '${codec}' needs the npm package ${pkg}, which did not load on ${process.platform}-${process.arch} ` +
        `(${(cause as Error).message.split('\n')[0]}); reinstall dependencies or choose compression zstd or gzip`,
      { cause },
    );
    throw err;
  }
}
