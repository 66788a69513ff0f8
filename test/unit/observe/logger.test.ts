import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger } from '../../../src/observe/logger.ts';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(
        ...chunk
          .toString('utf8')
          .split('\n')
          .filter((l) => l !== ''),
      );
      done();
    },
  });
  return { stream, lines };
}

describe('createLogger', () => {
  it('writes JSON with constant messages and the level asked for', () => {
    const { stream, lines } = capture();
    const log = createLogger('warn', stream);
    log.info({ path: '/x' }, 'not shown');
    log.warn({ path: '/x' }, 'file rotated');
    assert.equal(lines.length, 1);
    const entry = JSON.parse(lines[0] as string) as Record<string, unknown>;
    assert.equal(entry.msg, 'file rotated');
    assert.equal(entry.path, '/x');
    assert.equal(entry.name, 'logferry');
  });

  it('censors secrets wherever a config or credentials object is logged', () => {
    const { stream, lines } = capture();
    const log = createLogger('info', stream);
    log.info(
      {
        config: {
          sink: { kafka: { brokers: ['k:9092'], sasl: { mechanism: 'plain', password: 's3cret-1' } } },
        },
        sasl: { username: 'u', password: 's3cret-2' },
        headers: { authorization: 'Bearer s3cret-3' },
        token: 's3cret-4',
      },
      'config loaded',
    );
    const text = lines.join('\n');
    assert.doesNotMatch(text, /s3cret/);
    assert.match(text, /"username":"u"/);
    assert.match(text, /\[redacted\]/);
  });
});
