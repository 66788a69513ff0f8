import { CompressedDataError } from '../../model/errors.ts';
import { type Codec, loadNative } from './codec.ts';
import { xxhash32 } from './xxhash32.ts';

/**
 * Kafka's lz4 is the LZ4 frame format (magic 0x184D2204) with independent blocks, as the Java
 * client's KafkaLZ4BlockOutputStream writes it. Its reader, KafkaLZ4BlockInputStream, refuses
 * dependent blocks and needs a block maximum of 64 KiB..4 MiB; both hold for lz4_flex's frame
 * encoder (via lz4-napi), which the tests check on the header bytes.
 *
 * The quirk: with message format v0, Kafka computed the header checksum over the magic number too
 * (KAFKA-3160). Record batches v2, which kafkajs writes, use the standard checksum, so we write the
 * standard one; on reading, a header whose checksum is the legacy one is repaired before decoding,
 * so old message sets from a broker still decode.
 */

type Lz4Napi = typeof import('lz4-napi');

const MAGIC = 0x184d2204;
const FLG_VERSION_MASK = 0xc0;
const FLG_VERSION_01 = 0x40;
const FLG_BLOCK_INDEPENDENCE = 0x20;
const FLG_CONTENT_SIZE = 0x08;
const FLG_DICT_ID = 0x01;

let lz4: Lz4Napi | undefined;
function lib(): Lz4Napi {
  lz4 ??= loadNative<Lz4Napi>('lz4-napi', 'lz4');
  return lz4;
}

/** Offset of the header checksum byte, or -1 when `data` does not start with an LZ4 frame header. */
export function lz4HeaderChecksumOffset(data: Uint8Array): number {
  if (data.length < 7) return -1;
  const magic = (data[0]! | (data[1]! << 8) | (data[2]! << 16) | (data[3]! << 24)) >>> 0;
  if (magic !== MAGIC) return -1;
  const flg = data[4]!;
  let offset = 6;
  if (flg & FLG_CONTENT_SIZE) offset += 8;
  if (flg & FLG_DICT_ID) offset += 4;
  return offset < data.length ? offset : -1;
}

/** The standard header checksum: second byte of xxh32 over the frame descriptor (FLG .. before HC). */
export function lz4HeaderChecksum(data: Uint8Array, hcOffset: number, legacyKafkaV0 = false): number {
  return (xxhash32(data, legacyKafkaV0 ? 0 : 4, hcOffset) >>> 8) & 0xff;
}

/** Returns `data`, or a copy whose header checksum is rewritten when Kafka v0 computed it the legacy way. */
function repairLegacyHeader(data: Buffer): Buffer {
  const hc = lz4HeaderChecksumOffset(data);
  if (hc < 0)
    throw new CompressedDataError(
      'lz4: the batch does not start with an LZ4 frame header; the producer used another codec or the data is corrupt',
    );
  const actual = data[hc]!;
  const standard = lz4HeaderChecksum(data, hc);
  if (actual === standard || actual !== lz4HeaderChecksum(data, hc, true)) return data;
  const copy = Buffer.from(data);
  copy[hc] = standard;
  return copy;
}

/** FLG byte checks that the Java reader applies: version 01 and independent blocks. */
export function isKafkaCompatibleLz4Header(frame: Uint8Array): boolean {
  if (lz4HeaderChecksumOffset(frame) < 0) return false;
  const flg = frame[4]!;
  const blockMax = (frame[5]! >> 4) & 0x07;
  return (flg & FLG_VERSION_MASK) === FLG_VERSION_01 && (flg & FLG_BLOCK_INDEPENDENCE) !== 0 && blockMax >= 4;
}

export const lz4Codec: Codec = {
  name: 'lz4',
  async compress(data) {
    return lib().compressFrame(data);
  },
  compressSync(data) {
    return lib().compressFrameSync(data as Buffer);
  },
  decompressSync(data) {
    try {
      return lib().decompressFrameSync(repairLegacyHeader(data));
    } catch (cause) {
      throw new CompressedDataError(
        `lz4: the frame did not decode (${(cause as Error).message}); the data is truncated or corrupt`,
        { cause },
      );
    }
  },
  async decompress(data) {
    try {
      return await lib().decompressFrame(repairLegacyHeader(data));
    } catch (cause) {
      if (cause instanceof CompressedDataError) throw cause;
      throw new CompressedDataError(
        `lz4: the frame did not decode (${(cause as Error).message}); the data is truncated or corrupt`,
        {
          cause,
        },
      );
    }
  },
};
