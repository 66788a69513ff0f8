import { open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';

/** The read position persisted in `spool/state.json`: where the first unacknowledged frame is. */
export interface SpoolState {
  readonly segment: number;
  readonly offset: number;
}

export const STATE_FILE = 'state.json';
const STATE_VERSION = 1;

export type StateRead =
  | { readonly kind: 'missing' }
  | { readonly kind: 'ok'; readonly state: SpoolState }
  | { readonly kind: 'invalid'; readonly reason: string };

/** Reads the state file without changing anything (shared by the spool and `spool inspect`). */
export async function readSpoolState(spoolDir: string): Promise<StateRead> {
  let text: string;
  try {
    text = await readFile(join(spoolDir, STATE_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    return { kind: 'invalid', reason: (err as Error).message };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { kind: 'invalid', reason: 'not JSON' };
  }
  if (typeof parsed !== 'object' || parsed === null) return { kind: 'invalid', reason: 'not an object' };
  const o = parsed as Record<string, unknown>;
  if (o['version'] !== STATE_VERSION)
    return { kind: 'invalid', reason: `unknown version ${String(o['version'])}` };
  const segment = o['segment'];
  const offset = o['offset'];
  if (!Number.isSafeInteger(segment) || (segment as number) < 0)
    return { kind: 'invalid', reason: 'bad segment' };
  if (!Number.isSafeInteger(offset) || (offset as number) < 0)
    return { kind: 'invalid', reason: 'bad offset' };
  return { kind: 'ok', state: { segment: segment as number, offset: offset as number } };
}

/** Writes the state file atomically: temp file, fsync, rename over the old one, fsync the directory. */
export async function writeSpoolState(spoolDir: string, state: SpoolState): Promise<void> {
  const path = join(spoolDir, STATE_FILE);
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(
      `${JSON.stringify({ version: STATE_VERSION, segment: state.segment, offset: state.offset })}\n`,
    );
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  await syncDir(spoolDir);
}

/** Makes a create, rename or unlink in `dir` durable. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
