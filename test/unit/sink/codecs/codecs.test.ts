import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { Value } from '@sinclair/typebox/value';
import kafkajs from 'kafkajs';
import { CodecUnavailableError, CompressedDataError } from '../../../../src/model/errors.ts';
import { loadNative } from '../../../../src/sink/codecs/codec.ts';
import { CompressionSchema } from '../../../../src/sink/codecs/codecs-config.ts';
import {
  assertCodecAvailable,
  COMPRESSION_NAMES,
  codecs,
  compressionStats,
  registerCodecs,
  toKafkajsCompression,
} from '../../../../src/sink/codecs/index.ts';
import { sampleInputs } from './inputs.ts';

const { CompressionCodecs, CompressionTypes } = kafkajs;
const requireCjs = createRequire(import.meta.url);

/** kafkajs's own gzip codec, whatever is registered in its table now. */
function kafkajsGzip(): {
  compress(e: { buffer: Buffer }): Promise<Buffer>;
  decompress(b: Buffer): Promise<Buffer>;
} {
  return requireCjs('kafkajs/src/protocol/message/compression/gzip.js');
}

describe('codecs', () => {
  for (const [name, codec] of Object.entries(codecs)) {
    for (const input of sampleInputs()) {
      it(`${name} round-trips ${input.name}`, async () => {
        const compressed = await codec.compress(input.data);
        const back = await codec.decompress(compressed);
        assert.ok(back.equals(input.data), `${name}: ${input.data.length} bytes in, ${back.length} out`);
        if (input.name.startsWith('1 MiB of JSON')) assert.ok(compressed.length < input.data.length / 3);
      });
    }

    it(`${name} leaves the event loop running while it compresses and decompresses 4 MiB`, async () => {
      const data = Buffer.concat([
        sampleInputs()[2]!.data,
        sampleInputs()[3]!.data,
        sampleInputs()[2]!.data,
        sampleInputs()[3]!.data,
      ]);
      let turns = 0;
      let running = true;
      const turn = (): void => {
        turns++;
        if (running) setImmediate(turn);
      };
      setImmediate(turn);
      const compressed = await codec.compress(data);
      const turnsWhileCompressing = turns;
      await codec.decompress(compressed);
      running = false;
      // A codec that worked on the main thread would resolve before the loop turned even once.
      assert.ok(turnsWhileCompressing > 0, `${name}: the event loop never turned during compress`);
      assert.ok(turns > turnsWhileCompressing, `${name}: the event loop never turned during decompress`);
    });

    it(`${name} rejects garbage with CompressedDataError`, async () => {
      await assert.rejects(
        codec.decompress(Buffer.from('this is not a compressed batch at all')),
        CompressedDataError,
      );
    });

    it(`${name} rejects a truncated batch`, async () => {
      const compressed = await codec.compress(sampleInputs()[2]!.data);
      await assert.rejects(
        codec.decompress(compressed.subarray(0, compressed.length >> 1)),
        CompressedDataError,
      );
    });
  }

  it('maps every configured name to the kafkajs compression type', () => {
    assert.deepEqual(
      COMPRESSION_NAMES.map((n) => toKafkajsCompression(n)),
      [
        CompressionTypes.None,
        CompressionTypes.GZIP,
        CompressionTypes.Snappy,
        CompressionTypes.LZ4,
        CompressionTypes.ZSTD,
      ],
    );
  });

  it('registers snappy, lz4 and zstd in kafkajs, idempotently, and kafkajs then compresses through them', async () => {
    registerCodecs();
    const first = CompressionCodecs[CompressionTypes.LZ4];
    registerCodecs();
    assert.equal(CompressionCodecs[CompressionTypes.LZ4], first);
    const data = sampleInputs()[2]!.data;
    const byName = {
      snappy: CompressionTypes.Snappy,
      lz4: CompressionTypes.LZ4,
      zstd: CompressionTypes.ZSTD,
    } as const;
    for (const name of ['snappy', 'lz4', 'zstd'] as const) {
      assert.equal(toKafkajsCompression(name), byName[name]);
      const kafkajsCodec = CompressionCodecs[byName[name]]();
      const compressed: Buffer = await kafkajsCodec.compress({ buffer: data });
      assert.ok(compressed.length < data.length);
      assert.ok((await codecs[name].decompress(compressed)).equals(data));
      assert.ok((await kafkajsCodec.decompress(compressed)).equals(data));
    }
  });

  it('counts the bytes kafkajs compresses through the registered codecs', async () => {
    registerCodecs();
    const data = sampleInputs()[2]!.data;
    const before = { ...compressionStats };
    const compressed: Buffer = await CompressionCodecs[CompressionTypes.ZSTD]().compress({ buffer: data });
    await CompressionCodecs[CompressionTypes.GZIP]().compress({ buffer: data });
    await CompressionCodecs[CompressionTypes.ZSTD]().decompress(compressed);
    assert.equal(compressionStats.batches_compressed - before.batches_compressed, 2);
    assert.equal(compressionStats.uncompressed_bytes - before.uncompressed_bytes, 2 * data.length);
    assert.ok(compressionStats.compressed_bytes - before.compressed_bytes > compressed.length);
    assert.equal(compressionStats.batches_decompressed - before.batches_decompressed, 1);
  });

  it('our gzip and kafkajs gzip read each other', async () => {
    const data = sampleInputs()[2]!.data;
    const theirs = kafkajsGzip();
    assert.ok((await theirs.decompress(await codecs.gzip.compress(data))).equals(data));
    assert.ok((await codecs.gzip.decompress(await theirs.compress({ buffer: data }))).equals(data));
  });

  it('assertCodecAvailable passes for every codec on this platform', async () => {
    for (const name of COMPRESSION_NAMES) await assertCodecAvailable(name);
  });

  it('a native package that does not load is a CodecUnavailableError naming the way out', () => {
    assert.throws(
      () => loadNative('logferry-no-such-codec-package', 'lz4'),
      (err: unknown) =>
        err instanceof CodecUnavailableError &&
        err.code === 'LOGFERRY_ERR_CODEC_UNAVAILABLE' &&
        /compression 'lz4'.*choose compression zstd or gzip/.test(err.message),
    );
  });

  it('config: zstd is the default and only the five names are accepted', () => {
    assert.equal(Value.Default(CompressionSchema, undefined), 'zstd');
    for (const n of COMPRESSION_NAMES) assert.ok(Value.Check(CompressionSchema, n));
    assert.equal(Value.Check(CompressionSchema, 'brotli'), false);
    assert.ok(typeof CompressionSchema.description === 'string' && CompressionSchema.description.length > 0);
  });
});
