import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { CompressedDataError } from '../../model/errors.ts';
import type { Codec } from './codec.ts';

/**
 * The same gzip kafkajs ships (zlib level 6 on compress, gzip or zlib on decompress); kept as a
 * Codec here so the benchmark and tests treat every codec alike. kafkajs's own stays registered.
 */

const gzip = promisify(zlib.gzip);
const unzip = promisify(zlib.unzip);

export const gzipCodec: Codec = {
  name: 'gzip',
  compress(data) {
    return gzip(data);
  },
  async decompress(data) {
    try {
      return await unzip(data);
    } catch (cause) {
      throw new CompressedDataError(
        `gzip: the stream did not decode (${(cause as Error).message}); the data is truncated or corrupt`,
        {
          cause,
        },
      );
    }
  },
};
