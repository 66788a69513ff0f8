import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';

const ROOT = new URL('../../', import.meta.url).pathname;
const DOCS = ['sidecar.md', 'systemd.md', 'daemonset.md', 'tuning.md', 'troubleshooting.md'];

test('troubleshooting.md covers every error code of the catalog', () => {
  const catalog = readFileSync(join(ROOT, 'src/model/errors.ts'), 'utf8');
  const codes = new Set([...catalog.matchAll(/'(LOGFERRY_ERR_[A-Z_]+)'/g)].map((m) => m[1]!));
  assert.ok(codes.size >= 10, `found ${codes.size} codes`);
  const doc = readFileSync(join(ROOT, 'docs/troubleshooting.md'), 'utf8');
  const missing = [...codes].filter((c) => !doc.includes(c));
  assert.deepEqual(missing, [], 'document these codes (message and fix) in docs/troubleshooting.md');
});

test('the guides exist and their relative links and repository paths resolve', () => {
  for (const name of DOCS) {
    const file = join(ROOT, 'docs', name);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/\]\(([^)#:]+)(#[^)]*)?\)/g)) {
      assert.ok(existsSync(join(dirname(file), m[1]!)), `${name}: link ${m[1]}`);
    }
    // backticked repository paths such as `deploy/kubernetes/daemonset.yaml`
    for (const m of text.matchAll(/`((?:deploy|examples|docs|scripts|src|test)\/[A-Za-z0-9_./-]+)`/g)) {
      assert.ok(existsSync(join(ROOT, m[1]!)), `${name}: ${m[1]} does not exist`);
    }
  }
});
