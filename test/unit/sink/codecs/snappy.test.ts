import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CompressedDataError } from '../../../../src/model/errors.ts';
import { snappyCodec, XERIAL_BLOCK_SIZE, XERIAL_HEADER } from '../../../../src/sink/codecs/snappy.ts';
import { sampleInputs, snappyjs } from './inputs.ts';

/** A xerial stream built by hand from snappyjs (pure JS) blocks, as snappy-java's SnappyOutputStream lays it out. */
function referenceXerial(data: Buffer, blockSize = XERIAL_BLOCK_SIZE): Buffer {
  const parts: Buffer[] = [XERIAL_HEADER];
  for (let at = 0; at < data.length; at += blockSize) {
    const block = Buffer.from(snappyjs.compress(data.subarray(at, at + blockSize)));
    const length = Buffer.alloc(4);
    length.writeInt32BE(block.length);
    parts.push(length, block);
  }
  return Buffer.concat(parts);
}

/** Splits a xerial stream into its blocks, decoded with snappyjs. */
function referenceBlocks(stream: Buffer): Buffer[] {
  assert.ok(stream.subarray(0, 16).equals(XERIAL_HEADER), 'xerial header: magic, version 1, compatible 1');
  const blocks: Buffer[] = [];
  for (let at = 16; at < stream.length; ) {
    const length = stream.readInt32BE(at);
    blocks.push(Buffer.from(snappyjs.uncompress(stream.subarray(at + 4, at + 4 + length))));
    at += 4 + length;
  }
  return blocks;
}

describe('snappy (xerial framing, as the Java client writes it)', () => {
  for (const input of sampleInputs()) {
    it(`writes xerial blocks of at most 32 KiB that a pure JS decoder reads: ${input.name}`, async () => {
      const blocks = referenceBlocks(await snappyCodec.compress(input.data));
      assert.equal(blocks.length, Math.ceil(input.data.length / XERIAL_BLOCK_SIZE));
      for (const b of blocks.slice(0, -1)) assert.equal(b.length, XERIAL_BLOCK_SIZE);
      assert.ok(Buffer.concat(blocks).equals(input.data));
    });

    it(`reads a reference xerial stream: ${input.name}`, async () => {
      assert.ok((await snappyCodec.decompress(referenceXerial(input.data))).equals(input.data));
    });
  }

  it('reads concatenated xerial streams and blocks larger than 32 KiB', async () => {
    const a = sampleInputs()[2]!.data;
    const b = Buffer.from('and a second stream');
    const joined = Buffer.concat([referenceXerial(a, 200_000), referenceXerial(b)]);
    assert.ok((await snappyCodec.decompress(joined)).equals(Buffer.concat([a, b])));
  });

  it('reads raw snappy without the xerial header', async () => {
    const data = sampleInputs()[2]!.data;
    assert.ok((await snappyCodec.decompress(Buffer.from(snappyjs.compress(data)))).equals(data));
  });

  it('rejects a block length that runs past the end', async () => {
    const stream = Buffer.from(referenceXerial(Buffer.from('hello hello hello')));
    stream.writeInt32BE(1 << 20, 16);
    await assert.rejects(snappyCodec.decompress(stream), CompressedDataError);
  });
});
