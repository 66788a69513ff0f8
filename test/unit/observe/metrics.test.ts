import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Metrics, type MetricsSnapshot } from '../../../src/observe/metrics.ts';
import { type Family, parsePrometheusText, sampleValue } from './prom-text.ts';

function manualClock(start = 1_700_000_000_000) {
  const clock = { t: start, now: () => clock.t };
  return clock;
}

const EXPECTED: Record<string, { type: Family['type']; labels: string[] }> = {
  logferry_source_lines_read_total: { type: 'counter', labels: ['source'] },
  logferry_source_bytes_read_total: { type: 'counter', labels: ['source'] },
  logferry_sink_records_sent_total: { type: 'counter', labels: ['topic'] },
  logferry_sink_records_failed_total: { type: 'counter', labels: ['topic'] },
  logferry_sink_sent_bytes_total: { type: 'counter', labels: ['topic'] },
  logferry_sink_uncompressed_bytes_total: { type: 'counter', labels: [] },
  logferry_sink_compressed_bytes_total: { type: 'counter', labels: [] },
  logferry_sink_compression_ratio: { type: 'gauge', labels: [] },
  logferry_sink_retries_total: { type: 'counter', labels: ['reason'] },
  logferry_records_dropped_total: { type: 'counter', labels: ['reason'] },
  logferry_backpressure_seconds_total: { type: 'counter', labels: [] },
  logferry_tail_file_open_errors_total: { type: 'counter', labels: [] },
  logferry_spool_bytes: { type: 'gauge', labels: [] },
  logferry_spool_segments: { type: 'gauge', labels: [] },
  logferry_spool_oldest_age_seconds: { type: 'gauge', labels: [] },
  logferry_buffer_bytes: { type: 'gauge', labels: [] },
  logferry_buffer_max_bytes: { type: 'gauge', labels: [] },
  logferry_file_lag_bytes: { type: 'gauge', labels: ['source', 'path'] },
  logferry_checkpoint_age_seconds: { type: 'gauge', labels: [] },
  logferry_broker_state: { type: 'gauge', labels: ['state'] },
  logferry_sink_batch_records: { type: 'histogram', labels: [] },
  logferry_sink_batch_bytes: { type: 'histogram', labels: [] },
  logferry_sink_send_duration_seconds: { type: 'histogram', labels: ['outcome'] },
};

function fullSnapshot(now: number): MetricsSnapshot {
  return {
    sources: new Map([
      ['app', { lines_read: 120, bytes_read: 9000 }],
      ['nginx', { lines_read: 3, bytes_read: 300 }],
    ]),
    topics: {
      logs: { records_sent: 100, records_failed: 2, bytes_sent: 8000 },
      'logs-"x"': { records_sent: 1, records_failed: 0 },
    },
    compression: { uncompressed_bytes: 8000, compressed_bytes: 2000 },
    retries: { broker_unreachable: 4, not_authorized: 1 },
    dropped: new Map([['spool_full', 7]]),
    backpressure_ms: 2500,
    spool: { bytes: 4096, segments: 2, oldest_ms: now - 90_000 },
    buffer: { bytes: 1024, max_bytes: 67_108_864 },
    files: [
      { source: 'app', path: '/var/log/app/a.log', lag_bytes: 512 },
      { source: 'app', path: '/var/log/app/b\\n.log', lag_bytes: 0 },
    ],
    checkpoint_saved_ms: now - 1500,
    broker: 'connecting',
  };
}

describe('Metrics', () => {
  it('exposes every metric of issue 7 with Prometheus names, types and labels', async () => {
    const clock = manualClock();
    const metrics = new Metrics({ clock, processMetrics: false, snapshot: () => fullSnapshot(clock.t) });
    metrics.observeBatch(100, 8000);
    metrics.observeSend(0.02, true);
    const families = parsePrometheusText(await metrics.render());
    for (const [name, want] of Object.entries(EXPECTED)) {
      const f = families.get(name);
      assert.ok(f, `missing ${name}`);
      assert.equal(f.type, want.type, name);
      assert.ok(f.help && f.help.length > 10, `${name} has help`);
      assert.ok(f.samples.length > 0, `${name} has samples`);
      for (const s of f.samples) {
        const labels = Object.keys(s.labels).filter((l) => l !== 'le');
        assert.deepEqual(labels.sort(), [...want.labels].sort(), `${name} labels`);
      }
      if (want.type === 'counter') assert.match(name, /_total$/);
    }
    for (const name of families.keys()) assert.ok(name in EXPECTED, `unexpected family ${name}`);
  });

  it('reads counters and gauges from the snapshot at scrape time', async () => {
    const clock = manualClock();
    const metrics = new Metrics({ clock, processMetrics: false, snapshot: () => fullSnapshot(clock.t) });
    const f = parsePrometheusText(await metrics.render());
    assert.equal(sampleValue(f, 'logferry_source_lines_read_total', { source: 'app' }), 120);
    assert.equal(sampleValue(f, 'logferry_source_bytes_read_total', { source: 'nginx' }), 300);
    assert.equal(sampleValue(f, 'logferry_sink_records_sent_total', { topic: 'logs' }), 100);
    assert.equal(sampleValue(f, 'logferry_sink_records_sent_total', { topic: 'logs-"x"' }), 1);
    assert.equal(sampleValue(f, 'logferry_sink_records_failed_total', { topic: 'logs' }), 2);
    assert.equal(sampleValue(f, 'logferry_sink_sent_bytes_total', { topic: 'logs-"x"' }), 0);
    assert.equal(sampleValue(f, 'logferry_sink_compression_ratio'), 4);
    assert.equal(sampleValue(f, 'logferry_sink_retries_total', { reason: 'broker_unreachable' }), 4);
    assert.equal(sampleValue(f, 'logferry_records_dropped_total', { reason: 'spool_full' }), 7);
    assert.equal(sampleValue(f, 'logferry_backpressure_seconds_total'), 2.5);
    assert.equal(sampleValue(f, 'logferry_spool_bytes'), 4096);
    assert.equal(sampleValue(f, 'logferry_spool_segments'), 2);
    assert.equal(sampleValue(f, 'logferry_spool_oldest_age_seconds'), 90);
    assert.equal(sampleValue(f, 'logferry_buffer_max_bytes'), 67_108_864);
    assert.equal(sampleValue(f, 'logferry_file_lag_bytes', { path: '/var/log/app/a.log' }), 512);
    assert.equal(sampleValue(f, 'logferry_file_lag_bytes', { path: '/var/log/app/b\\n.log' }), 0);
    assert.equal(sampleValue(f, 'logferry_checkpoint_age_seconds'), 1.5);
    assert.equal(sampleValue(f, 'logferry_broker_state', { state: 'connecting' }), 1);
    assert.equal(sampleValue(f, 'logferry_broker_state', { state: 'connected' }), 0);
    assert.equal(sampleValue(f, 'logferry_broker_state', { state: 'disconnected' }), 0);
  });

  it('follows growing totals and drops series of files no longer reported', async () => {
    const clock = manualClock();
    const stats = { lines: 5, files: [{ source: 's', path: '/a', lag_bytes: 10 }] };
    const metrics = new Metrics({
      clock,
      processMetrics: false,
      snapshot: () => ({ sources: { s: { lines_read: stats.lines, bytes_read: 0 } }, files: stats.files }),
    });
    let f = parsePrometheusText(await metrics.render());
    assert.equal(sampleValue(f, 'logferry_source_lines_read_total', { source: 's' }), 5);
    stats.lines = 12;
    stats.files = [{ source: 's', path: '/b', lag_bytes: 3 }];
    f = parsePrometheusText(await metrics.render());
    assert.equal(sampleValue(f, 'logferry_source_lines_read_total', { source: 's' }), 12);
    assert.equal(sampleValue(f, 'logferry_file_lag_bytes', { path: '/b' }), 3);
    assert.throws(() => sampleValue(f, 'logferry_file_lag_bytes', { path: '/a' }), /0 samples/);
  });

  it('gives concurrent scrapes each a whole snapshot (a counter never reads as reset)', async () => {
    let calls = 0;
    const metrics = new Metrics({
      snapshot: () => {
        calls++;
        return { sources: { s: { lines_read: calls * 10, bytes_read: calls * 100 } } };
      },
    });
    const texts = await Promise.all(Array.from({ length: 8 }, () => metrics.render()));
    const seen = texts.map((t) => {
      const f = parsePrometheusText(t);
      const lines = sampleValue(f, 'logferry_source_lines_read_total', { source: 's' });
      assert.equal(sampleValue(f, 'logferry_source_bytes_read_total', { source: 's' }), lines * 10);
      return lines;
    });
    assert.deepEqual(
      [...seen].sort((a, b) => a - b),
      [10, 20, 30, 40, 50, 60, 70, 80],
    );
  });

  it('feeds batch size and send latency histograms per batch', async () => {
    const metrics = new Metrics({ processMetrics: false });
    metrics.observeBatch(1, 500);
    metrics.observeBatch(700, 300_000);
    metrics.observeSend(0.004, true);
    metrics.observeSend(0.3, true);
    metrics.observeSend(12, false);
    const f = parsePrometheusText(await metrics.render());
    assert.equal(sampleValue(f, 'logferry_sink_batch_records_count', {}, 'logferry_sink_batch_records'), 2);
    assert.equal(sampleValue(f, 'logferry_sink_batch_records_sum', {}, 'logferry_sink_batch_records'), 701);
    assert.equal(
      sampleValue(f, 'logferry_sink_batch_records_bucket', { le: '500' }, 'logferry_sink_batch_records'),
      1,
    );
    assert.equal(
      sampleValue(f, 'logferry_sink_batch_bytes_bucket', { le: '262144' }, 'logferry_sink_batch_bytes'),
      1,
    );
    const h = 'logferry_sink_send_duration_seconds';
    assert.equal(sampleValue(f, `${h}_count`, { outcome: 'ok' }, h), 2);
    assert.equal(sampleValue(f, `${h}_count`, { outcome: 'error' }, h), 1);
    assert.equal(sampleValue(f, `${h}_bucket`, { outcome: 'ok', le: '0.005' }, h), 1);
    assert.equal(sampleValue(f, `${h}_bucket`, { outcome: 'error', le: '10' }, h), 0);
    assert.deepEqual(metrics.status().send, { batches: 3, failed_batches: 1, latency_seconds_sum: 12.304 });
  });

  it('reads missing sections and bad numbers as 0 without breaking the scrape', async () => {
    const clock = manualClock();
    const metrics = new Metrics({
      clock,
      processMetrics: false,
      snapshot: () => ({
        sources: { s: { lines_read: Number.NaN, bytes_read: -3 } },
        compression: { uncompressed_bytes: 10, compressed_bytes: 0 },
        backpressure_ms: Number.POSITIVE_INFINITY,
      }),
    });
    clock.t += 4000;
    const f = parsePrometheusText(await metrics.render());
    assert.equal(sampleValue(f, 'logferry_source_lines_read_total', { source: 's' }), 0);
    assert.equal(sampleValue(f, 'logferry_source_bytes_read_total', { source: 's' }), 0);
    assert.equal(sampleValue(f, 'logferry_sink_compression_ratio'), 0);
    assert.equal(sampleValue(f, 'logferry_backpressure_seconds_total'), 0);
    assert.equal(sampleValue(f, 'logferry_spool_oldest_age_seconds'), 0);
    // No checkpoint written yet: its age counts from the start.
    assert.equal(sampleValue(f, 'logferry_checkpoint_age_seconds'), 4);
    assert.equal(families(f, 'logferry_broker_state').samples.length, 0);
    assert.equal(families(f, 'logferry_sink_retries_total').samples.length, 0);
  });

  it('uses a snapshot set after construction, and reports the build', async () => {
    const metrics = new Metrics({ processMetrics: false, version: '1.2.3' });
    metrics.setSnapshot(() => ({ broker: 'connected' }));
    const f = parsePrometheusText(await metrics.render());
    assert.equal(sampleValue(f, 'logferry_broker_state', { state: 'connected' }), 1);
    assert.equal(sampleValue(f, 'logferry_build_info', { version: '1.2.3' }), 1);
  });

  it('adds the standard process and Node.js metrics by default', async () => {
    const metrics = new Metrics();
    const f = parsePrometheusText(await metrics.render());
    assert.equal(families(f, 'process_cpu_seconds_total').type, 'counter');
    assert.equal(families(f, 'nodejs_heap_size_used_bytes').type, 'gauge');
    assert.match(metrics.contentType, /^text\/plain; version=0\.0\.4/);
  });

  it('builds the /status document from one snapshot', () => {
    const clock = manualClock();
    const metrics = new Metrics({
      clock,
      processMetrics: false,
      version: '0.1.0',
      snapshot: () => fullSnapshot(clock.t),
    });
    clock.t += 10_000;
    const s = metrics.status();
    assert.equal(s.time_ms, clock.t);
    assert.equal(s.uptime_seconds, 10);
    assert.equal(s.version, '0.1.0');
    assert.deepEqual(s.sources, [
      { name: 'app', lines_read: 120, bytes_read: 9000 },
      { name: 'nginx', lines_read: 3, bytes_read: 300 },
    ]);
    assert.deepEqual(s.topics[1], { name: 'logs-"x"', records_sent: 1, records_failed: 0, bytes_sent: 0 });
    assert.equal(s.files.length, 2);
    assert.deepEqual(s.retries, { broker_unreachable: 4, not_authorized: 1 });
    assert.deepEqual(s.dropped, { spool_full: 7 });
    assert.equal(s.compression_ratio, 4);
    assert.equal(s.backpressure_seconds, 2.5);
    assert.deepEqual(s.spool, { bytes: 4096, segments: 2, oldest_age_seconds: 90 });
    assert.equal(s.checkpoint_age_seconds, 1.5);
    assert.equal(s.broker, 'connecting');
    assert.deepEqual(JSON.parse(JSON.stringify(s)), s);
  });
});

function families(f: Map<string, Family>, name: string): Family {
  const family = f.get(name);
  assert.ok(family, `missing ${name}`);
  return family;
}
