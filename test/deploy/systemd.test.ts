import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { checkConfigCli, startupCheck } from './config-check.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const UNIT = join(ROOT, 'deploy/systemd/logferry.service');
const CONFIG = join(ROOT, 'deploy/systemd/logferry.yaml');
const text = readFileSync(UNIT, 'utf8');
const tmp = mkdtempSync(join(tmpdir(), 'logferry-systemd-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** [Section] -> key -> every value assigned (systemd keys may repeat). */
function parseUnit(unit: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of unit.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const s = /^\[(.+)\]$/.exec(line);
    if (s) {
      current = new Map();
      sections.set(s[1]!, current);
      continue;
    }
    const eq = line.indexOf('=');
    assert.ok(current && eq > 0, `unit line outside a section or without '=': ${line}`);
    const key = line.slice(0, eq);
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1)]);
  }
  return sections;
}

const unit = parseUnit(text);
const service = unit.get('Service')!;
const one = (key: string) => {
  const v = service.get(key);
  assert.ok(v, `[Service] ${key} is set`);
  return v.at(-1)!;
};

const analyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
const noAnalyze =
  analyze.error !== undefined
    ? 'systemd-analyze is not installed (Debian package "systemd"): apt-get install systemd'
    : false;

/** The unit as systemd-analyze should see it; the node path is swapped only where /usr/bin/node is absent. */
function unitForVerify(): string {
  if (existsSync('/usr/bin/node')) return UNIT;
  const copy = join(tmp, 'logferry.service');
  writeFileSync(copy, text.replaceAll('/usr/bin/node', process.execPath));
  return copy;
}

test('systemd-analyze verify accepts the unit with no warning at all', { skip: noAnalyze }, () => {
  const r = spawnSync('systemd-analyze', ['verify', '--man=no', unitForVerify()], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  // verify exits 0 on an unknown key or a bad value (it only warns), so any output is a failure
  assert.equal(`${r.stdout}${r.stderr}`.trim(), '', 'no warnings');
});

test('systemd-analyze verify catches a broken unit (the check is not vacuous)', { skip: noAnalyze }, () => {
  const bad = join(tmp, 'broken.service');
  writeFileSync(
    bad,
    readFileSync(unitForVerify(), 'utf8').replace('Restart=on-failure', 'Restart=sometimes'),
  );
  const r = spawnSync('systemd-analyze', ['verify', '--man=no', bad], { encoding: 'utf8' });
  assert.match(r.stderr, /restart specifier/);
});

test('systemd-analyze security rates the sandbox OK (exposure below 3)', { skip: noAnalyze }, () => {
  const r = spawnSync('systemd-analyze', ['security', '--offline=yes', '--no-pager', unitForVerify()], {
    encoding: 'utf8',
  });
  const m = /Overall exposure level for \S+: ([\d.]+)/.exec(`${r.stdout}${r.stderr}`);
  assert.ok(m, `${r.stdout}\n${r.stderr}`);
  assert.ok(Number(m[1]) < 3, `exposure ${m[1]}`);
});

test('restart, user, state directory and sandbox settings', () => {
  assert.equal(one('Restart'), 'on-failure');
  assert.deepEqual(
    one('RestartPreventExitStatus').split(/\s+/).sort(),
    ['2', '3'],
    'usage and config errors',
  );
  const dynamic = service.get('DynamicUser')?.at(-1) === 'yes';
  const user = service.get('User')?.at(-1);
  assert.ok(
    dynamic || (user !== undefined && user !== 'root' && user !== '0'),
    'DynamicUser or a dedicated user',
  );
  assert.notEqual(user, 'root');
  assert.equal(one('StateDirectory'), 'logferry');
  assert.equal(one('ProtectSystem'), 'strict');
  assert.deepEqual(
    service.get('ReadWritePaths'),
    ['/var/lib/logferry'],
    'writable: the state directory only',
  );
  assert.equal(one('NoNewPrivileges'), 'yes');
  assert.equal(one('CapabilityBoundingSet'), '', 'no capabilities');
  assert.equal(one('AmbientCapabilities'), '');
  assert.match(one('LimitNOFILE'), /^\d+$/);
  assert.ok(Number(one('LimitNOFILE')) >= 8192);
  assert.equal(one('ExecReload'), '/bin/kill -HUP $MAINPID');
  assert.equal(service.has('MemoryDenyWriteExecute'), false, "V8's JIT needs W+X memory");
  assert.ok(Number.parseInt(one('TimeoutStopSec'), 10) > 25, 'longer than the 25 s shutdown timeout');
  assert.ok(service.get('SupplementaryGroups')?.length, 'a group to read other users’ logs');
  assert.equal(unit.get('Install')?.get('WantedBy')?.[0], 'multi-user.target');
});

test('the unit runs the config that its docs install, and data_dir is the StateDirectory', async () => {
  const start = one('ExecStart').split(/\s+/);
  assert.equal(start[1], '/opt/logferry/bin/logferry.js');
  assert.deepEqual(start.slice(2), ['run', '--config', '/etc/logferry/logferry.yaml']);
  assert.equal(one('ExecStartPre'), `${start[0]} ${start[1]} check-config /etc/logferry/logferry.yaml`);
  const config = parseYaml(readFileSync(CONFIG, 'utf8')) as { data_dir: string };
  assert.equal(config.data_dir, `/var/lib/${one('StateDirectory')}`);
  const r = await checkConfigCli(CONFIG);
  assert.equal(r.code, 0, r.stderr);
  startupCheck(CONFIG, process.env);
  const docs = readFileSync(join(ROOT, 'docs/systemd.md'), 'utf8');
  assert.match(docs, /deploy\/systemd\/logferry\.yaml/);
  assert.match(docs, /setfacl/, 'the ACL way of reading logs is documented');
});
