import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { discoverFiles, staticBase } from '../../../src/tail/glob-discovery.ts';

describe('discoverFiles', () => {
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'logferry-glob-'));
    for (const d of ['a', 'a/b', 'a/b/c', 'pods/ns_pod_1/app', 'containers', 'other'])
      mkdirSync(join(root, d), { recursive: true });
    for (const f of [
      'a/x.log',
      'a/y.txt',
      'a/b/z.log',
      'a/b/c/deep.log',
      'a/b/c/skip.log',
      'pods/ns_pod_1/app/0.log',
      'other/o.log',
    ])
      writeFileSync(join(root, f), 'x\n');
    symlinkSync(join(root, 'pods/ns_pod_1/app/0.log'), join(root, 'containers/pod_app.log'));
    symlinkSync(join(root, 'other'), join(root, 'a/linked'));
    symlinkSync(join(root, 'a'), join(root, 'a/b/loop')); // a directory loop
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  const names = (m: Map<string, unknown>) => [...m.keys()].map((p) => p.slice(root.length + 1)).sort();

  it('matches one level with *', async () => {
    const r = await discoverFiles([join(root, 'a/*.log')], []);
    assert.deepEqual(names(r.files), ['a/x.log']);
    assert.ok(r.dirs.has(join(root, 'a')));
  });

  it('recurses with **, follows symlinked directories, survives loops, applies excludes', async () => {
    const r = await discoverFiles([join(root, 'a/**/*.log')], [join(root, '**/skip.log')]);
    assert.deepEqual(names(r.files), ['a/b/c/deep.log', 'a/b/z.log', 'a/linked/o.log', 'a/x.log']);
  });

  it('follows symlinks to files (Kubernetes /var/log/containers)', async () => {
    const r = await discoverFiles([join(root, 'containers/*.log')], []);
    assert.deepEqual(names(r.files), ['containers/pod_app.log']);
    assert.equal(r.files.get(join(root, 'containers/pod_app.log'))?.stat.isFile(), true);
  });

  it('matches wildcard directories level by level and literal paths', async () => {
    const r = await discoverFiles(
      [join(root, 'pods/*/*/*.log'), join(root, 'other/o.log'), join(root, 'missing.log')],
      [],
    );
    assert.deepEqual(names(r.files), ['other/o.log', 'pods/ns_pod_1/app/0.log']);
  });

  it('supports braces', async () => {
    const r = await discoverFiles([join(root, 'a/*.{log,txt}')], []);
    assert.deepEqual(names(r.files), ['a/x.log', 'a/y.txt']);
  });

  it('computes the static base of a pattern', () => {
    assert.equal(staticBase('/var/log/pods/*/x.log'), '/var/log/pods');
    assert.equal(staticBase('/var/log/app.log'), '/var/log');
    assert.equal(staticBase('/*.log'), '/');
  });
});

describe('globMatches', () => {
  it('agrees with path.matchesGlob on simple and complex patterns', async () => {
    const { matchesGlob } = await import('node:path');
    const { globMatches } = await import('../../../src/tail/glob-discovery.ts');
    const names = [
      'a.log',
      '.hidden.log',
      'a.log.1',
      'x.y.log',
      'log',
      'a+b.log',
      'a(1).log',
      'dir/a.log',
      '/abs/a.log',
      'a.txt',
    ];
    const patterns = [
      '*.log',
      '*',
      'a*',
      '*.log.*',
      '.*.log',
      'a+b.log',
      'a(1).log',
      '/abs/*.log',
      '*.{log,txt}',
      '?.log',
      '**/*.log',
    ];
    for (const p of patterns)
      for (const n of names) assert.equal(globMatches(n, p), matchesGlob(n, p), `${n} ~ ${p}`);
  });
});
