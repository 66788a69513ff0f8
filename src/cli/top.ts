import { get as httpGet } from 'node:http';
import { ExitCode, StatusUnreachableError } from '../model/errors.ts';
import type { StatusDocument } from '../observe/metrics.ts';
import { renderStatusView } from '../observe/status-view.ts';

export interface TopOptions {
  /** The agent's endpoint (`metrics.listen`), with or without `/status` and `http://`. */
  url: string;
  intervalSeconds: number;
  /** One frame (rates measured over one interval), then exit. */
  once: boolean;
  out?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
}

const FETCH_TIMEOUT_MS = 5_000;
const CLEAR = '\x1b[H\x1b[2J';

/**
 * `logferry top`: frames from the agent's /status. On a terminal each frame replaces the last; to a
 * pipe or file the frames follow one another, each after a `--- time` line, so `top --once` and
 * `top | tee` are usable in scripts. Stops on SIGINT/SIGTERM with exit 0.
 */
export async function topCommand(opts: TopOptions): Promise<number> {
  const out = opts.out ?? process.stdout;
  const url = statusUrl(opts.url);
  const intervalMs = Math.max(100, Math.round(opts.intervalSeconds * 1000));
  const width = () => (out.isTTY ? (out.columns ?? 100) : 100);
  const tty = out.isTTY === true;
  let prev = await fetchStatus(url);
  if (opts.once) {
    await sleep(intervalMs);
    const cur = await fetchStatus(url);
    out.write(renderStatusView(cur, prev, { width: width() }));
    return ExitCode.ok;
  }
  let stop = false;
  let wake: (() => void) | undefined;
  const onSignal = () => {
    stop = true;
    wake?.();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    let frame = renderStatusView(prev, undefined, { width: width() });
    for (;;) {
      out.write(tty ? CLEAR + frame : `--- ${new Date().toISOString()}\n${frame}`);
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, intervalMs);
      });
      if (stop) return ExitCode.ok;
      try {
        const cur = await fetchStatus(url);
        frame = renderStatusView(cur, prev, { width: width() });
        prev = cur;
      } catch (err) {
        // The agent may be restarting: say so and keep asking.
        frame = `${(err as Error).message}\n`;
      }
      if (stop) return ExitCode.ok;
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** `127.0.0.1:9464`, `http://host:9464` or `http://host:9464/status` -> the /status URL. */
export function statusUrl(input: string): string {
  const withScheme = /^[a-z]+:\/\//i.test(input) ? input : `http://${input}`;
  const u = new URL(withScheme);
  if (u.protocol !== 'http:') {
    throw new StatusUnreachableError(
      `--url ${input}: the agent serves /status over plain http: write http://host:port or host:port`,
    );
  }
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/status';
  return u.toString();
}

/** node:http rather than fetch: fetch refuses some ports (6000, 6665-6669, ...) an agent may use. */
function fetchStatus(url: string): Promise<StatusDocument> {
  return new Promise((resolve, reject) => {
    const req = httpGet(url, { timeout: FETCH_TIMEOUT_MS }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => {
        if (res.statusCode !== 200) {
          reject(
            new StatusUnreachableError(
              `${url} answered HTTP ${res.statusCode}: point --url at a logferry agent's metrics.listen address`,
            ),
          );
          return;
        }
        try {
          resolve(JSON.parse(body) as StatusDocument);
        } catch {
          reject(
            new StatusUnreachableError(
              `${url} did not answer JSON: point --url at a logferry agent's metrics.listen address`,
            ),
          );
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => {
      reject(
        new StatusUnreachableError(
          `no agent answers at ${url} (${err.code ?? err.message}): start it, or pass its metrics.listen address with --url`,
        ),
      );
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
