import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluateReadiness, PauseMeter } from '../../../src/observe/readiness.ts';

describe('evaluateReadiness', () => {
  it('is not ready before start or while stopping', () => {
    assert.equal(evaluateReadiness({ started: false, broker: 'connected' }).ready, false);
    const stopping = evaluateReadiness({ started: true, stopping: true, broker: 'connected' });
    assert.deepEqual(stopping, { ready: false, reason: 'shutting down' });
  });

  it('is ready when the broker is connected', () => {
    assert.deepEqual(evaluateReadiness({ started: true, broker: 'connected' }), {
      ready: true,
      broker: 'connected',
    });
  });

  it('stays ready while the broker is away and the spool has room, and not once it is full', () => {
    const room = evaluateReadiness({
      started: true,
      broker: 'disconnected',
      spool: { bytes: 10, max_bytes: 100 },
    });
    assert.equal(room.ready, true);
    assert.equal(room.spooling, true);
    const full = evaluateReadiness({
      started: true,
      broker: 'disconnected',
      spool: { bytes: 100, max_bytes: 100 },
    });
    assert.equal(full.ready, false);
    assert.match(full.reason ?? '', /spool full/);
  });

  it('is not ready without a broker and without a spool', () => {
    const r = evaluateReadiness({ started: true, broker: 'connecting' });
    assert.equal(r.ready, false);
    assert.match(r.reason ?? '', /broker connecting and no spool/);
  });
});

describe('PauseMeter', () => {
  it('sums pauses, counts one still going on, and ignores repeated calls', () => {
    const clock = { t: 1000, now: () => clock.t };
    const meter = new PauseMeter(clock);
    meter.resume();
    assert.equal(meter.totalMs(), 0);
    meter.pause();
    clock.t += 300;
    meter.pause();
    clock.t += 200;
    assert.equal(meter.paused, true);
    assert.equal(meter.totalMs(), 500);
    meter.resume();
    clock.t += 1000;
    assert.equal(meter.totalMs(), 500);
    meter.pause();
    clock.t += 50;
    meter.resume();
    meter.resume();
    assert.equal(meter.paused, false);
    assert.equal(meter.totalMs(), 550);
  });
});
