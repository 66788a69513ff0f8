import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

const ROOT = new URL('../../', import.meta.url).pathname;

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { uid: string };
  targets?: { expr: string; refId: string }[];
}
const dashboard = JSON.parse(readFileSync(join(ROOT, 'docs/grafana-dashboard.json'), 'utf8')) as {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: { name: string; type: string }[] };
};

/** The metric names the agent registers (src/observe/metrics.ts), histograms apart. */
const metricsSource = readFileSync(join(ROOT, 'src/observe/metrics.ts'), 'utf8');
const defined = new Set([...metricsSource.matchAll(/'(logferry_[a-z_]+)'/g)].map((m) => m[1]!));
const histograms = new Set(
  [...metricsSource.matchAll(/new PromHistogram(?:<[^>]*>)?\(\{\s*name:\s*'(logferry_[a-z_]+)'/g)].map(
    (m) => m[1]!,
  ),
);
const exprs = dashboard.panels.flatMap((p) =>
  (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })),
);

test('the dashboard imports as a Grafana dashboard with a data source variable', () => {
  assert.equal(dashboard.uid, 'logferry-overview');
  assert.ok(dashboard.templating.list.some((v) => v.name === 'datasource' && v.type === 'datasource'));
  const ids = dashboard.panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  for (const p of dashboard.panels) {
    assert.ok(p.gridPos.x >= 0 && p.gridPos.x + p.gridPos.w <= 24, `${p.title}: within the 24-column grid`);
    if (p.type !== 'row') {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a JS template
      assert.equal(p.datasource?.uid, '${datasource}', `${p.title}: uses the data source variable`);
      assert.ok(p.targets?.length, `${p.title}: has a query`);
    }
  }
  const boxes = dashboard.panels.map((p) => p.gridPos);
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const [a, b] = [boxes[i]!, boxes[j]!];
      const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
      assert.equal(overlap, false, `${dashboard.panels[i]!.title} overlaps ${dashboard.panels[j]!.title}`);
    }
  }
});

test('every query names metrics the agent exports, with balanced brackets', () => {
  assert.ok(defined.size >= 15, `found ${defined.size} metric names in src/observe/metrics.ts`);
  assert.ok(histograms.size >= 1);
  for (const { panel, expr } of exprs) {
    for (const m of expr.matchAll(/logferry_[a-z_]+/g)) {
      const name = m[0];
      const base = name.replace(/_(bucket|sum|count)$/, '');
      const known = defined.has(name) || (histograms.has(base) && base !== name);
      assert.ok(known, `${panel}: ${name} is not a metric of src/observe/metrics.ts`);
      if (histograms.has(name)) assert.fail(`${panel}: histogram ${name} needs _bucket, _sum or _count`);
    }
    for (const [open, close] of ['()', '[]', '{}']) {
      assert.equal(expr.split(open!).length, expr.split(close!).length, `${panel}: balanced ${open}${close}`);
    }
    assert.match(
      expr,
      /job=~"\$job", instance=~"\$instance"/,
      `${panel}: filtered by the job and instance variables`,
    );
  }
});

test('every metric the agent exports is on the dashboard', () => {
  const used = new Set(exprs.flatMap(({ expr }) => [...expr.matchAll(/logferry_[a-z_]+/g)].map((m) => m[0])));
  const usedBase = new Set([...used].map((n) => n.replace(/_(bucket|sum|count)$/, '')));
  const missing = [...defined].filter((n) => !used.has(n) && !usedBase.has(n));
  assert.deepEqual(missing, [], 'add a panel (or a target) for these');
});
