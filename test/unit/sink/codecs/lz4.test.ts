import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import {
  isKafkaCompatibleLz4Header,
  lz4BlockMaxCode,
  lz4Codec,
  lz4HeaderChecksum,
  lz4HeaderChecksumOffset,
} from '../../../../src/sink/codecs/lz4.ts';
import { jsonLogs, type Lz4js, lz4js, sampleInputs } from './inputs.ts';

const lz4Napi = createRequire(import.meta.url)('lz4-napi') as typeof import('lz4-napi');
/** lz4js's raw block decoder: decodes `src[sIndex, sIndex + sLength)` into `dst` at `dIndex`, returns the end. */
const lz4jsBlock = lz4js as Lz4js & {
  decompressBlock(src: Uint8Array, dst: Uint8Array, sIndex: number, sLength: number, dIndex: number): number;
};

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

const KiB = 1 << 10;
const MiB = 1 << 20;

interface ParsedFrame {
  flg: number;
  bd: number;
  blockMaxCode: number;
  blocks: { size: number; stored: boolean }[];
}

/** Walks the frame the way KafkaLZ4BlockInputStream does, checking what it checks. */
function parseFrame(frame: Buffer): ParsedFrame {
  assert.equal(frame.readUInt32LE(0), 0x184d2204, 'magic');
  const flg = frame[4]!;
  const bd = frame[5]!;
  assert.equal(frame[6], lz4HeaderChecksum(frame, 6), 'standard header checksum');
  const blockMaxCode = (bd >> 4) & 0x07;
  const blockMax = 1 << (8 + 2 * blockMaxCode);
  const blocks: { size: number; stored: boolean }[] = [];
  let pos = 7;
  for (;;) {
    const field = frame.readUInt32LE(pos);
    pos += 4;
    if (field === 0) break;
    const size = field & 0x7fffffff;
    assert.ok(size <= blockMax, `block of ${size} bytes exceeds the block maximum ${blockMax}`);
    blocks.push({ size, stored: (field & 0x80000000) !== 0 });
    pos += size;
  }
  assert.equal(pos, frame.length, 'the end mark is the last thing in the frame');
  return { flg, bd, blockMaxCode, blocks };
}

describe('lz4 frame written around lz4-napi block output', () => {
  it("lz4-napi's compressSync returns the input length (4 bytes LE) then one raw LZ4 block", () => {
    for (const data of [Buffer.alloc(0), Buffer.from('x'), jsonLogs(100 * KiB), randomBytes(10 * KiB)]) {
      const out = lz4Napi.compressSync(data);
      assert.equal(out.readUInt32LE(0), data.length);
      assert.ok(lz4Napi.uncompressSync(out).equals(data));
      // An independent block decoder (pure JS) reads the bytes after the length as one raw block.
      const decoded = Buffer.alloc(data.length);
      if (data.length > 0)
        assert.equal(lz4jsBlock.decompressBlock(out, decoded, 4, out.length - 4, 0), data.length);
      assert.ok(decoded.equals(data));
    }
  });

  const mixed = Buffer.concat([jsonLogs(4 * MiB), randomBytes(4 * MiB), jsonLogs(1 * MiB)]);
  const inputs: { name: string; data: Buffer; blocks: number }[] = [
    { name: 'empty', data: Buffer.alloc(0), blocks: 0 },
    { name: '1 byte', data: Buffer.from('x'), blocks: 1 },
    { name: '100 KiB incompressible', data: randomBytes(100 * KiB), blocks: 1 },
    { name: '100 KiB of JSON', data: jsonLogs(100 * KiB), blocks: 1 },
    { name: '512 KiB of JSON', data: jsonLogs(512 * KiB), blocks: 1 },
    { name: 'exactly 4 MiB of JSON', data: jsonLogs(4 * MiB), blocks: 1 },
    { name: '9 MiB of JSON', data: jsonLogs(9 * MiB), blocks: 3 },
    { name: '9 MiB of JSON, noise, JSON', data: mixed, blocks: 3 },
  ];

  for (const input of inputs) {
    it(`round-trips through decompressFrameSync, sync and async alike: ${input.name}`, async () => {
      const frame = lz4Codec.compressSync!(input.data);
      assert.ok(lz4Napi.decompressFrameSync(frame).equals(input.data));
      assert.ok(lz4Codec.decompressSync!(frame).equals(input.data));
      assert.ok((await lz4Codec.decompress(frame)).equals(input.data));
      assert.ok((await lz4Codec.compress(input.data)).equals(frame), 'async compress writes the same bytes');
      assert.ok(isKafkaCompatibleLz4Header(frame), `header ${frame.subarray(0, 7).toString('hex')}`);
      const parsed = parseFrame(frame);
      assert.equal(parsed.flg, 0x60, 'version 01, independent blocks, no checksums, size or dictionary');
      assert.equal(parsed.bd & 0x8f, 0, 'BD reserved bits');
      assert.equal(parsed.blocks.length, input.blocks);
    });
  }

  it('an empty input is the header and the end mark', () => {
    const frame = lz4Codec.compressSync!(Buffer.alloc(0));
    assert.equal(frame.length, 11);
    assert.equal(frame.readUInt32LE(7), 0);
    assert.equal(lz4Napi.decompressFrameSync(frame).length, 0);
  });

  it('splits input over 4 MiB into independent 4 MiB blocks, the last one partial', () => {
    const data = jsonLogs(9 * MiB);
    const frame = lz4Codec.compressSync!(data);
    const { blocks } = parseFrame(frame);
    assert.deepEqual(
      blocks.map((b) => b.stored),
      [false, false, false],
    );
    // Each block decodes on its own (no reference to the previous block's bytes).
    let pos = 7;
    const pieces: Buffer[] = [];
    for (const block of blocks) {
      const out = Buffer.alloc(4 * MiB);
      const end = lz4jsBlock.decompressBlock(frame, out, pos + 4, block.size, 0);
      pieces.push(out.subarray(0, end));
      pos += 4 + block.size;
    }
    assert.deepEqual(
      pieces.map((p) => p.length),
      [4 * MiB, 4 * MiB, 1 * MiB],
    );
    assert.ok(Buffer.concat(pieces).equals(data));
  });

  it('picks the smallest block maximum that holds the largest block', () => {
    const cases: [number, number][] = [
      [10 * KiB, 4],
      [200 * KiB, 5],
      [512 * KiB, 6],
      [3 * MiB, 7],
      [9 * MiB, 7],
    ];
    for (const [size, code] of cases) {
      const frame = lz4Codec.compressSync!(jsonLogs(size));
      assert.equal(frame[5]! >> 4, code, `${size} bytes`);
      assert.ok(isKafkaCompatibleLz4Header(frame));
    }
    for (const [largest, code] of [
      [0, 4],
      [64 * KiB, 4],
      [64 * KiB + 1, 5],
      [256 * KiB, 5],
      [256 * KiB + 1, 6],
      [1 * MiB, 6],
      [1 * MiB + 1, 7],
      [4 * MiB, 7],
    ] as const) {
      assert.equal(lz4BlockMaxCode(largest), code, `${largest} bytes`);
    }
  });

  it('stores a block that does not compress uncompressed, with the high bit of its size set', () => {
    const data = randomBytes(100 * KiB);
    const frame = lz4Codec.compressSync!(data);
    assert.equal(frame.readUInt32LE(7), (0x80000000 | data.length) >>> 0);
    assert.ok(frame.subarray(11, 11 + data.length).equals(data));
    assert.equal(frame.length, 7 + 4 + data.length + 4);
    const json = lz4Codec.compressSync!(jsonLogs(100 * KiB));
    assert.equal(json.readUInt32LE(7) & 0x80000000, 0, 'JSON compresses');
    assert.deepEqual(
      parseFrame(lz4Codec.compressSync!(mixed)).blocks.map((b) => b.stored),
      [false, true, false],
    );
  });

  it('compresses a plain Uint8Array view (not a Buffer) the same', () => {
    const data = jsonLogs(100 * KiB);
    const backing = new Uint8Array(data.length + 16);
    backing.set(data, 8);
    const view = backing.subarray(8, 8 + data.length);
    assert.ok(lz4Codec.compressSync!(view).equals(lz4Codec.compressSync!(data)));
  });

  it('the lz4 command and lz4js decode our multi-block and stored-block frames', {
    skip: hasLz4Cli ? false : 'lz4 command not installed',
  }, () => {
    for (const input of inputs) {
      const frame = lz4Codec.compressSync!(input.data);
      const out = spawnSync('lz4', ['-d', '-c', '-q'], { input: frame, maxBuffer: 1 << 25 });
      assert.equal(out.status, 0, String(out.stderr));
      assert.ok(out.stdout.equals(input.data), input.name);
      assert.ok(Buffer.from(lz4js.decompress(frame)).equals(input.data), input.name);
    }
  });
});
