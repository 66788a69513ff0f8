/**
 * Reload with the real CLI in --dry-run mode (records as NDJSON on stdout): SIGHUP adds and removes
 * sources without a restart and without losing positions, an invalid config is rejected while the
 * old one keeps running, other changed keys are reported as needing a restart; --watch-config
 * reloads on a file change.
 */
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type AgentProcess, startAgent, waitFor } from '../support/agent-process.ts';

const root = mkdtempSync(join(tmpdir(), 'logferry-reload-'));
after(() => rmSync(root, { recursive: true, force: true }));

function setup(name: string) {
  const dir = join(root, name);
  for (const d of ['a', 'b']) mkdirSync(join(dir, d), { recursive: true });
  const cfg = join(dir, 'c.yaml');
  const source = (s: string) => `  - name: ${s}\n    include: ["${dir}/${s}/*.log"]\n    service: svc-${s}\n`;
  const write = (sources: string[], extra = '') =>
    writeFileSync(
      cfg,
      `data_dir: ${join(dir, 'data')}\nsources:\n${sources.map(source).join('')}sink:\n  kafka:\n    brokers: ["127.0.0.1:1"]\n    topic: t\n${extra}`,
    );
  const next = { a: 0, b: 0 };
  const append = (s: 'a' | 'b', n: number) => {
    let text = '';
    for (let i = 0; i < n; i++) text += `${s} line ${next[s]++}\n`;
    appendFileSync(join(dir, s, `${s}.log`), text);
  };
  return { cfg, write, append };
}

function records(agent: AgentProcess): { message: string; service: { name: string } }[] {
  return agent
    .stdout()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { message: string; service: { name: string } });
}

function count(agent: AgentProcess, prefix: string): number {
  return records(agent).filter((r) => r.message.startsWith(prefix)).length;
}

function logged(agent: AgentProcess, msg: string): number {
  return agent.stderr().split(`"msg":"${msg}"`).length - 1;
}

test('SIGHUP adds and removes sources live, keeps positions, and keeps the old config when the new one is invalid', async () => {
  const env = setup('hup');
  env.append('a', 100);
  env.append('b', 100);
  env.write(['a']);
  const agent = startAgent(['run', '--config', env.cfg, '--dry-run']);
  try {
    await waitFor(() => count(agent, 'a ') === 100, 20_000, "a's first 100 records");
    assert.equal(count(agent, 'b '), 0);

    // Add b: its existing lines arrive without a restart.
    env.write(['a', 'b']);
    agent.child.kill('SIGHUP');
    await waitFor(() => count(agent, 'b ') === 100, 20_000, "b's records after adding it");
    assert.ok(
      records(agent)
        .filter((r) => r.message.startsWith('b '))
        .every((r) => r.service.name === 'svc-b'),
    );
    assert.equal(logged(agent, 'config reloaded'), 1);

    // Remove a (and change a key that needs a restart): a's new lines are not read any more.
    env.write(['b'], 'batch:\n  max_records: 77\n');
    agent.child.kill('SIGHUP');
    await waitFor(() => logged(agent, 'config reloaded') === 2, 20_000, 'second reload');
    assert.match(
      agent.stderr(),
      /"keys":\["batch\.max_records"\],"msg":"config changes not applied until restart"/,
    );
    env.append('a', 50);
    env.append('b', 20);
    await waitFor(() => count(agent, 'b ') === 120, 20_000, "b's appended lines");
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(count(agent, 'a '), 100, 'a removed: its appended lines are not shipped');

    // An invalid config is rejected and logged; b keeps flowing under the old config.
    env.write(['b']);
    writeFileSync(env.cfg, readFileSync(env.cfg, 'utf8').replace('service: svc-b', 'servise: svc-b'));
    agent.child.kill('SIGHUP');
    await waitFor(
      () => logged(agent, 'config reload rejected; the running config stays') === 1,
      20_000,
      'reject',
    );
    assert.match(agent.stderr(), /sources\[0\]\.servise: unknown key/);
    writeFileSync(env.cfg, badRegexConfig(env.cfg));
    agent.child.kill('SIGHUP');
    await waitFor(
      () => logged(agent, 'config reload rejected; the running config stays') === 2,
      20_000,
      'reject 2',
    );
    assert.match(agent.stderr(), /regex is not a valid regular expression/);
    env.append('b', 10);
    await waitFor(() => count(agent, 'b ') === 130, 20_000, 'b still shipped after rejected reloads');

    // Add a back: it resumes at its checkpoint, so exactly the 50 lines written meanwhile arrive.
    env.write(['a', 'b']);
    agent.child.kill('SIGHUP');
    await waitFor(() => count(agent, 'a ') === 150, 20_000, "a's lines written while it was removed");
    await new Promise((r) => setTimeout(r, 300));
    const a = records(agent)
      .filter((r) => r.message.startsWith('a '))
      .map((r) => r.message);
    assert.equal(new Set(a).size, 150, 'no line twice');
    assert.deepEqual(
      a.slice(100),
      Array.from({ length: 50 }, (_, i) => `a line ${100 + i}`),
    );
    assert.equal(await agent.stop(), 0, agent.stderr());
  } finally {
    await agent.stop();
  }
});

/** The config at `file` with a source whose regex does not compile. */
function badRegexConfig(file: string): string {
  const dir = join(file, '..');
  return `data_dir: ${join(dir, 'data')}\nsources:\n  - name: b\n    include: ["${dir}/b/*.log"]\n    parser: regex\n    regex: "(?<message>.*"\nsink:\n  kafka:\n    brokers: ["127.0.0.1:1"]\n    topic: t\n`;
}

test('--watch-config reloads when the file changes', async () => {
  const env = setup('watch');
  env.append('a', 10);
  env.append('b', 10);
  env.write(['a']);
  const agent = startAgent(['run', '--config', env.cfg, '--dry-run', '--watch-config']);
  try {
    await waitFor(() => count(agent, 'a ') === 10, 20_000, "a's records");
    env.write(['a', 'b']);
    await waitFor(() => count(agent, 'b ') === 10, 20_000, "b's records after the file changed");
    assert.match(agent.stderr(), /"trigger":"config file changed"/);
    assert.equal(await agent.stop(), 0, agent.stderr());
  } finally {
    await agent.stop();
  }
});
