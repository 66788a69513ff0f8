import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import {
  isKafkaCompatibleLz4Header,
  lz4Codec,
  lz4HeaderChecksum,
  lz4HeaderChecksumOffset,
} from '../../../../src/sink/codecs/lz4.ts';
import { lz4js, sampleInputs } from './inputs.ts';

const hasLz4Cli = spawnSync('lz4', ['--version']).status === 0;

describe('lz4 (LZ4 frame, as Kafka reads it)', () => {
  for (const input of sampleInputs()) {
    it(`writes a frame the Java reader accepts (version 01, independent blocks, 64 KiB+ blocks): ${input.name}`, async () => {
      const frame = await lz4Codec.compress(input.data);
      assert.equal(frame.readUInt32LE(0), 0x184d2204);
      assert.ok(isKafkaCompatibleLz4Header(frame), `header ${frame.subarray(0, 7).toString('hex')}`);
      const hc = lz4HeaderChecksumOffset(frame);
      assert.equal(frame[hc], lz4HeaderChecksum(frame, hc), 'standard (record batch v2) header checksum');
    });

    it(`lz4js (pure JS reference) decodes our frame, and we decode its frame: ${input.name}`, async () => {
      const ours = await lz4Codec.compress(input.data);
      assert.ok(Buffer.from(lz4js.decompress(ours)).equals(input.data));
      const theirs = Buffer.from(lz4js.compress(input.data));
      assert.ok((await lz4Codec.decompress(theirs)).equals(input.data));
    });
  }

  it('decodes a frame whose header checksum was computed the Kafka message-format-v0 way', async () => {
    const data = sampleInputs()[2]!.data;
    const frame = Buffer.from(await lz4Codec.compress(data));
    const hc = lz4HeaderChecksumOffset(frame);
    const legacy = lz4HeaderChecksum(frame, hc, true);
    assert.notEqual(legacy, frame[hc], 'this test needs the two checksums to differ');
    frame[hc] = legacy;
    assert.ok((await lz4Codec.decompress(frame)).equals(data));
  });

  it('still rejects a header checksum that is neither standard nor legacy', async () => {
    const frame = Buffer.from(await lz4Codec.compress(sampleInputs()[2]!.data));
    const hc = lz4HeaderChecksumOffset(frame);
    const wrong = [0, 1, 2]
      .map((d) => (frame[hc]! + d) & 0xff)
      .find((b) => b !== frame[hc] && b !== lz4HeaderChecksum(frame, hc, true))!;
    frame[hc] = wrong;
    await assert.rejects(lz4Codec.decompress(frame));
  });

  it('decodes frames with block checksums, a content checksum and the content size (as other producers write them)', {
    skip: hasLz4Cli ? false : 'lz4 command not installed',
  }, async () => {
    const data = sampleInputs()[2]!.data;
    for (const flags of [
      ['-B4', '-BX'],
      ['-B7', '--content-size'],
      ['-B5', '--no-frame-crc'],
    ]) {
      const out = spawnSync('lz4', ['-c', '-q', ...flags], { input: data, maxBuffer: 1 << 24 });
      assert.equal(out.status, 0, String(out.stderr));
      assert.ok((await lz4Codec.decompress(out.stdout)).equals(data), flags.join(' '));
    }
  });

  it('the lz4 command decodes our frames', {
    skip: hasLz4Cli ? false : 'lz4 command not installed',
  }, async () => {
    for (const input of sampleInputs()) {
      const out = spawnSync('lz4', ['-d', '-c', '-q'], {
        input: await lz4Codec.compress(input.data),
        maxBuffer: 1 << 24,
      });
      assert.equal(out.status, 0, String(out.stderr));
      assert.ok(out.stdout.equals(input.data), input.name);
    }
  });
});
