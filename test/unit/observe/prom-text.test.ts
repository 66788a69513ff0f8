import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePrometheusText, sampleValue } from './prom-text.ts';

const GOOD = `# HELP a_total Things, with a \\\\ backslash.
# TYPE a_total counter
a_total{k="x\\"y\\nz"} 3
a_total{k="w"} 1e3

# TYPE h histogram
h_bucket{le="1"} 1
h_bucket{le="+Inf"} 2
h_sum 5.5
h_count 2
# a comment
g NaN 1700000000000
`;

describe('parsePrometheusText (test support)', () => {
  it('reads families, escaped labels, histograms and untyped samples', () => {
    const f = parsePrometheusText(GOOD);
    assert.equal(f.get('a_total')?.help, 'Things, with a \\ backslash.');
    assert.equal(sampleValue(f, 'a_total', { k: 'x"y\nz' }), 3);
    assert.equal(sampleValue(f, 'a_total', { k: 'w' }), 1000);
    assert.equal(sampleValue(f, 'h_count', {}, 'h'), 2);
    assert.equal(f.get('g')?.type, 'untyped');
    assert.ok(Number.isNaN(sampleValue(f, 'g')));
  });

  it('rejects what a Prometheus server would not read', () => {
    const bad: Record<string, string> = {
      'no newline': 'a 1',
      'bad escape': 'a{k="\\t"} 1\n',
      'unterminated label': 'a{k="x} 1\n',
      'bad number': 'a 0x10\n',
      'type after samples': 'a 1\n# TYPE a gauge\n',
      'split family': '# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na{x="1"} 2\n',
      'duplicate series': 'a{k="1"} 1\na{k="1"} 2\n',
      'negative counter': '# TYPE c_total counter\nc_total -1\n',
      'no +Inf bucket': '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n',
      'not cumulative': '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
      'count mismatch': '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 1\n',
      'bad label name': 'a{1k="x"} 1\n',
    };
    for (const [what, text] of Object.entries(bad)) {
      assert.throws(() => parsePrometheusText(text), Error, what);
    }
  });
});
