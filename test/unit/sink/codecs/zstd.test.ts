import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { zstdCodec } from '../../../../src/sink/codecs/zstd.ts';
import { sampleInputs } from './inputs.ts';

const hasZstdCli = spawnSync('zstd', ['--version']).status === 0;

describe('zstd (standard frame)', () => {
  it('writes a standard zstd frame with the content size in its header', async () => {
    const frame = await zstdCodec.compress(sampleInputs()[2]!.data);
    assert.equal(frame.readUInt32LE(0), 0xfd2fb528);
    // Frame_Header_Descriptor: Frame_Content_Size_flag (bits 7-6) set for a 1 MiB input.
    assert.notEqual(frame[4]! & 0xc0, 0);
  });

  it('the zstd command decodes our frames, and we decode its frames', {
    skip: hasZstdCli ? false : 'zstd command not installed',
  }, async () => {
    for (const input of sampleInputs()) {
      const decoded = spawnSync('zstd', ['-d', '-c', '-q'], {
        input: await zstdCodec.compress(input.data),
        maxBuffer: 1 << 24,
      });
      assert.equal(decoded.status, 0, String(decoded.stderr));
      assert.ok(decoded.stdout.equals(input.data), input.name);
      for (const level of ['-1', '-9', '--long']) {
        const encoded = spawnSync('zstd', ['-c', '-q', level], { input: input.data, maxBuffer: 1 << 24 });
        assert.equal(encoded.status, 0, String(encoded.stderr));
        assert.ok((await zstdCodec.decompress(encoded.stdout)).equals(input.data), `${input.name} ${level}`);
      }
    }
  });
});
