import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { BIN } from '../../support/agent-process.ts';

const dir = mkdtempSync(join(tmpdir(), 'logferry-bin-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let runs = 0;

function writeConfig(parser = 'none'): { config: string; data: string } {
  const data = join(dir, `data-${++runs}`);
  const config = join(dir, `logferry-${runs}.yaml`);
  writeFileSync(
    config,
    [
      `data_dir: ${data}`,
      `sources: [{ name: app, include: ["${join(dir, '*.log')}"], parser: ${parser} }]`,
      'sink: { kafka: { brokers: ["127.0.0.1:1"], topic: t } }',
      'log: { level: error }',
    ].join('\n'),
  );
  return { config, data };
}

/**
 * Starts `run` (no broker listens: it keeps running); its command line once the agent started, and
 * the environment it was started with (after its re-execution: what libuv and V8 were given).
 */
async function runProcess(
  env: NodeJS.ProcessEnv,
  parser = 'none',
): Promise<{ argv: string[]; environ: Map<string, string> }> {
  const { config, data } = writeConfig(parser);
  // A key given as undefined is left out of the child's environment.
  const merged: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const key of Object.keys(merged)) if (merged[key] === undefined) delete merged[key];
  const child = spawn(process.execPath, [BIN, 'run', '--config', config], { env: merged, stdio: 'ignore' });
  try {
    // The data directory is made by the agent, so bin/logferry.js is done with by then.
    const deadline = Date.now() + 30_000;
    while (!existsSync(data) && child.exitCode === null && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    assert.ok(existsSync(data), 'the agent started');
    const argv = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0');
    const environ = new Map<string, string>();
    for (const entry of readFileSync(`/proc/${child.pid}/environ`, 'utf8').split('\0')) {
      const eq = entry.indexOf('=');
      if (eq > 0) environ.set(entry.slice(0, eq), entry.slice(eq + 1));
    }
    return { argv, environ };
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
}

test('run replaces itself with a small V8 young generation, same pid: 4 MiB when lines travel as bytes, 16 with a parser', {
  skip: process.platform !== 'linux',
}, async () => {
  const bytes = await runCommandLine({ NODE_OPTIONS: '' });
  assert.ok(bytes.includes('--max-semi-space-size=4'), bytes.join(' '));
  assert.ok(bytes.includes('run'));
  const strings = await runCommandLine({ NODE_OPTIONS: '' }, 'json');
  assert.ok(strings.includes('--max-semi-space-size=16'), strings.join(' '));
  assert.equal(strings.filter((a) => a.includes('semi-space')).length, 1, 'set once');
});

test('LOGFERRY_NODE_DEFAULTS=0 or a size chosen by the user is left alone', {
  skip: process.platform !== 'linux',
}, async () => {
  const defaults = await runCommandLine({ LOGFERRY_NODE_DEFAULTS: '0' });
  assert.ok(!defaults.some((a) => a.includes('semi-space')), defaults.join(' '));
  const own = await runCommandLine({ NODE_OPTIONS: '--max-semi-space-size=8' });
  assert.ok(!own.some((a) => a.includes('semi-space')), own.join(' '));
});

async function runCommandLine(env: NodeJS.ProcessEnv, parser = 'none'): Promise<string[]> {
  return (await runProcess(env, parser)).argv;
}

test('libuv thread pool: sized to the CPUs, 2 to 4, unless the user set it or asked for Node defaults', {
  skip: process.platform !== 'linux',
}, async () => {
  const expected = String(Math.min(4, Math.max(2, availableParallelism())));
  const sized = await runProcess({ UV_THREADPOOL_SIZE: undefined, NODE_OPTIONS: '' });
  assert.equal(sized.environ.get('UV_THREADPOOL_SIZE'), expected);
  const own = await runProcess({ UV_THREADPOOL_SIZE: '7' });
  assert.equal(own.environ.get('UV_THREADPOOL_SIZE'), '7');
  const defaults = await runProcess({ UV_THREADPOOL_SIZE: undefined, LOGFERRY_NODE_DEFAULTS: '0' });
  assert.equal(defaults.environ.get('UV_THREADPOOL_SIZE'), undefined);
});

/** Files in a compile cache directory (Node keeps them in one subdirectory per Node version). */
function cachedFiles(cache: string): number {
  if (!existsSync(cache)) return 0;
  return readdirSync(cache, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).length;
}

test('run writes the compile cache once started, so a killed agent still leaves it for the next start', async () => {
  const cache = join(dir, 'compile-cache');
  const { config } = writeConfig();
  // Node reads NODE_DISABLE_COMPILE_CACHE as set even when empty.
  const { NODE_DISABLE_COMPILE_CACHE: _off, ...env } = process.env;
  const child = spawn(process.execPath, [BIN, 'run', '--config', config], {
    env: { ...env, NODE_COMPILE_CACHE: cache },
    stdio: 'ignore',
  });
  const exited = new Promise((r) => child.once('exit', r));
  try {
    // The agent's own modules and the Kafka client's: well over a hundred files.
    const deadline = Date.now() + 30_000;
    while (cachedFiles(cache) < 100 && child.exitCode === null && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    assert.ok(cachedFiles(cache) >= 100, `${cachedFiles(cache)} files cached while running`);
  } finally {
    // SIGKILL: Node's own write at exit never happens, so what is there was flushed after start.
    child.kill('SIGKILL');
    await exited;
  }
});

test('NODE_DISABLE_COMPILE_CACHE=1 turns the compile cache off', async () => {
  const cache = join(dir, 'compile-cache-off');
  await runCommandLine({ NODE_COMPILE_CACHE: cache, NODE_DISABLE_COMPILE_CACHE: '1' });
  assert.equal(cachedFiles(cache), 0);
});
