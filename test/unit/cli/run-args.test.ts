import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRunArgs } from '../../../src/cli/run-args.ts';

test('run with its own options is read without yargs, in every spelling of --config', () => {
  assert.deepEqual(parseRunArgs(['run', '--config', 'a.yaml']), {
    config: 'a.yaml',
    dryRun: false,
    watchConfig: false,
  });
  assert.deepEqual(parseRunArgs(['run', '-c', '/etc/l.yaml', '--dry-run']), {
    config: '/etc/l.yaml',
    dryRun: true,
    watchConfig: false,
  });
  assert.deepEqual(parseRunArgs(['run', '--watch-config', '--config=x.json']), {
    config: 'x.json',
    dryRun: false,
    watchConfig: true,
  });
});

test('anything else is left to yargs (help, other commands, unknown, missing or repeated options)', () => {
  for (const argv of [
    [],
    ['version'],
    ['check-config', 'a.yaml'],
    ['run'],
    ['run', '--help'],
    ['run', '--config'],
    ['run', '--config', '--dry-run'],
    ['run', '--config='],
    ['run', '--config', 'a', '--config', 'b'],
    ['run', '--config', 'a', '--unknown'],
    ['run', '--config', 'a', 'extra'],
    ['run', '--config', 'a', '--no-dry-run'],
    ['run', '--config', 'a', '--dry-run=false'],
  ])
    assert.equal(parseRunArgs(argv), undefined, argv.join(' '));
});
