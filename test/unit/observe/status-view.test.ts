import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Metrics, type MetricsSnapshot, type StatusDocument } from '../../../src/observe/metrics.ts';
import { bytes, duration, renderStatusView } from '../../../src/observe/status-view.ts';

/** Two /status documents 2 s apart, made by Metrics itself so the view reads the real shape. */
function frames(): [StatusDocument, StatusDocument] {
  const clock = { t: 1_700_000_000_000, now: () => clock.t };
  const snap: MetricsSnapshot & { files: { source: string; path: string; lag_bytes: number }[] } = {
    sources: { app: { lines_read: 1000, bytes_read: 100_000 } },
    topics: { logs: { records_sent: 900, records_failed: 0 } },
    backpressure_ms: 0,
    spool: { bytes: 0, segments: 0, oldest_ms: undefined },
    files: [
      { source: 'app', path: '/var/log/app/small.log', lag_bytes: 10 },
      { source: 'app', path: `/var/log/${'deep/'.repeat(30)}big.log`, lag_bytes: 5 * 1024 * 1024 },
      { source: 'nginx', path: '/var/log/nginx/access.log', lag_bytes: 2048 },
    ],
    broker: 'connected',
  };
  const metrics = new Metrics({ clock, processMetrics: false, version: '0.1.0', snapshot: () => snap });
  clock.t += 65_000;
  metrics.observeSend(0.01, true);
  const first = metrics.status();
  clock.t += 2000;
  snap.sources = { app: { lines_read: 21_000, bytes_read: 2_100_000 } };
  snap.topics = { logs: { records_sent: 20_900, records_failed: 4 } };
  snap.backpressure_ms = 500;
  snap.spool = { bytes: 3 * 1024 * 1024, segments: 2, oldest_ms: clock.t - 30_000 };
  snap.retries = { broker_unreachable: 3 };
  metrics.observeSend(0.02, true);
  metrics.observeSend(0.04, false);
  return [first, metrics.status()];
}

describe('renderStatusView', () => {
  it('shows rates between two documents, send latency, spool and backpressure', () => {
    const [prev, cur] = frames();
    const text = renderStatusView(cur, prev, { width: 80 });
    const lines = text.split('\n');
    assert.equal(lines[0], 'logferry  0.1.0  up 1m07s  broker connected');
    assert.match(
      text,
      /in {3}10\.0k lines\/s {2}976\.6 KiB\/s {4}out {2}10\.0k records\/s {2}failed 2\.0 records\/s/,
    );
    assert.match(text, /send avg 30 ms over 2 batches {2}\(failed 1 in total\)/);
    assert.match(text, /paused by backpressure 25% \(total 0\.5s\)/);
    assert.match(text, /spool 3\.0 MiB in 2 segments, oldest 30s/);
    assert.match(text, /retries broker_unreachable 3 {2}dropped 0/);
    for (const l of lines) assert.ok(l.length <= 80, `line within width: ${l}`);
  });

  it('lists files most behind first, shortening long paths from the left', () => {
    const [prev, cur] = frames();
    const lines = renderStatusView(cur, prev, { width: 80 }).split('\n');
    const header = lines.findIndex((l) => l.startsWith('FILE'));
    assert.match(lines[header + 1] as string, /^\.\.\.(deep\/)+big\.log\s+app\s+5\.0 MiB$/);
    assert.match(lines[header + 2] as string, /^\/var\/log\/nginx\/access\.log\s+nginx\s+2\.0 KiB$/);
    assert.match(lines[header + 3] as string, /small\.log\s+app\s+10 B$/);
  });

  it('shows no rates for the first frame and limits the file list', () => {
    const [, cur] = frames();
    const text = renderStatusView(cur, undefined, { maxFiles: 1 });
    assert.match(text, /in {3}- lines\/s {2}- B\/s/);
    assert.match(text, /over 3 batches since start/);
    assert.match(text, /\.\.\. and 2 more files, 2\.0 KiB behind/);
  });
});

describe('status view units', () => {
  it('formats bytes and durations', () => {
    assert.equal(bytes(0), '0 B');
    assert.equal(bytes(1536), '1.5 KiB');
    assert.equal(bytes(5 * 1024 ** 3), '5.0 GiB');
    assert.equal(duration(1.5), '1.5s');
    assert.equal(duration(75), '1m15s');
    assert.equal(duration(3 * 3600 + 120), '3h02m');
    assert.equal(duration(50 * 3600), '2d02h');
  });
});
