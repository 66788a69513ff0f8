import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  barChartSvg,
  DOC_BEGIN,
  DOC_END,
  judgeTargets,
  markdownTable,
  percentile,
  replaceDocBlock,
  type ScenarioResult,
} from '../../../bench/lib/report.ts';
import { parseProducerPerf } from '../../../bench/scenarios/producer-perf.ts';

const row = (id: string, linesPerSec: number, extra: Partial<ScenarioResult> = {}): ScenarioResult => ({
  id,
  title: id,
  status: 'ok',
  expectedRecords: 100,
  bytes: 1000,
  linesPerSec,
  mbPerSec: linesPerSec / 1000,
  ...extra,
});

describe('bench report', () => {
  it('takes nearest-rank percentiles', () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(percentile(xs, 50), 50);
    assert.equal(percentile(xs, 99), 99);
    assert.equal(percentile([7], 99), 7);
    assert.ok(Number.isNaN(percentile([], 50)));
  });

  it('puts ratios against rsyslog and ProducerPerformance of the same run in the table', () => {
    const t = markdownTable([row('headline', 300), row('rsyslog', 100), row('producer-perf', 600)]);
    const headline = t.split('\n').find((l) => l.startsWith('| headline'));
    assert.match(headline ?? '', /\| 3\.00× \| 0\.50× \|/);
    const failed = markdownTable([row('headline', 300, { status: 'FAILED', reason: 'topic holds 5 | 7' })]);
    assert.match(failed, /\*\*FAILED\*\*: topic holds 5 \/ 7/);
    assert.doesNotMatch(failed.split('\n')[2] ?? '', /×/);
  });

  it('judges the targets on the headline and says what was not measured', () => {
    const v = judgeTargets([
      row('headline', 300, { cpuSecPerGiB: 12, peakRssMiB: 80, p99Ms: 100 }),
      row('rsyslog', 100),
    ]);
    const by = (s: string) => v.find((x) => x.target.includes(s));
    assert.equal(by('rsyslog')?.met, true);
    assert.equal(by('ProducerPerformance')?.met, undefined);
    assert.equal(by('CPU')?.met, false);
    assert.equal(by('RSS')?.met, true);
    assert.equal(by('p99')?.met, true);
    assert.equal(by('JSON record')?.met, undefined, 'rsyslog-record not run');
    const withRecord = judgeTargets([row('headline', 300), row('rsyslog', 100), row('rsyslog-record', 250)]);
    const rec = withRecord.find((x) => x.target.includes('JSON record'));
    assert.deepEqual([rec?.measured, rec?.met], ['1.20×', false]);
  });

  it('draws one bar per finished scenario and escapes titles', () => {
    const svg = barChartSvg([row('a<b', 100), row('x', 50, { status: 'unavailable' })], 'T & U');
    assert.equal((svg.match(/<rect /g) ?? []).length, 2); // background + one bar
    assert.ok(svg.includes('a&lt;b') && svg.includes('T &amp; U'));
    assert.ok(svg.startsWith('<svg') && svg.trimEnd().endsWith('</svg>'));
  });

  it('replaces only the generated block of the doc, keeping other sections', () => {
    const first = replaceDocBlock('', 'one');
    assert.ok(first.startsWith('# Benchmarks') && first.includes(DOC_BEGIN) && first.includes('one'));
    const withProfile = `${first}\n## Profile of the hot path\n\nkeep me\n`;
    const second = replaceDocBlock(withProfile, 'two');
    assert.ok(second.includes('two') && !second.includes('one') && second.includes('keep me'));
    assert.equal(second.split(DOC_END).length, 2);
    assert.ok(replaceDocBlock('# Other\n\ntext\n', 'x').startsWith('# Other\n\ntext\n\n'));
  });

  it("reads ProducerPerformance's summary line", () => {
    const out =
      '100 records sent, 20.0 records/sec\n101072 records sent, 31764.2 records/sec (6.29 MB/sec), 412.3 ms avg latency, 1200.0 ms max latency, 23 ms 50th, 900 ms 95th, 1177 ms 99th, 1190 ms 99.9th.\n';
    assert.deepEqual(parseProducerPerf(out), { records: 101072, recordsPerSec: 31764.2, p50: 23, p99: 1177 });
    assert.equal(parseProducerPerf('nothing'), undefined);
  });
});
