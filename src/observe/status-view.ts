/**
 * The text `logferry top` shows: one frame from two consecutive /status documents (rates are the
 * difference of totals over the time between them). Plain text, no escape codes: the command
 * clears the screen between frames on a TTY and prints frames one after another otherwise.
 */
import type { StatusDocument } from './metrics.ts';

export interface StatusViewOptions {
  /** Columns available; long paths are shortened from the left. Default 100. */
  width?: number;
  /** Files listed, most bytes behind first. Default 20. */
  maxFiles?: number;
}

export function renderStatusView(
  cur: StatusDocument,
  prev: StatusDocument | undefined,
  options: StatusViewOptions = {},
): string {
  const width = Math.max(40, options.width ?? 100);
  const maxFiles = Math.max(0, options.maxFiles ?? 20);
  const dt = prev ? (cur.time_ms - prev.time_ms) / 1000 : 0;
  const rate = (now: number, before: number | undefined) =>
    prev && dt > 0 && before !== undefined ? Math.max(0, now - before) / dt : undefined;

  const sum = <T>(xs: readonly T[], f: (x: T) => number) => xs.reduce((a, x) => a + f(x), 0);
  const linesIn = rate(
    sum(cur.sources, (s) => s.lines_read),
    prev && sum(prev.sources, (s) => s.lines_read),
  );
  const bytesIn = rate(
    sum(cur.sources, (s) => s.bytes_read),
    prev && sum(prev.sources, (s) => s.bytes_read),
  );
  const recordsOut = rate(
    sum(cur.topics, (t) => t.records_sent),
    prev && sum(prev.topics, (t) => t.records_sent),
  );
  const failedOut = rate(
    sum(cur.topics, (t) => t.records_failed),
    prev && sum(prev.topics, (t) => t.records_failed),
  );
  const batches = prev ? cur.send.batches - prev.send.batches : cur.send.batches;
  const latencySum = prev
    ? cur.send.latency_seconds_sum - prev.send.latency_seconds_sum
    : cur.send.latency_seconds_sum;
  const pausedShare = rate(cur.backpressure_seconds, prev?.backpressure_seconds);

  const out: string[] = [];
  const header = [
    'logferry',
    cur.version,
    `up ${duration(cur.uptime_seconds)}`,
    `broker ${cur.broker ?? 'unknown'}`,
  ];
  out.push(header.filter((x) => x !== undefined).join('  '));
  out.push(
    `in   ${perSecond(linesIn, 'lines')}  ${bytesPerSecond(bytesIn)}    ` +
      `out  ${perSecond(recordsOut, 'records')}  failed ${perSecond(failedOut, 'records')}`,
  );
  out.push(
    `send ${batches > 0 ? `avg ${millis(latencySum / batches)}` : 'avg -'} over ${batches} batches` +
      `${prev ? '' : ' since start'}  (failed ${cur.send.failed_batches} in total)` +
      `  compression ${cur.compression_ratio > 0 ? `${cur.compression_ratio.toFixed(1)}x` : '-'}`,
  );
  out.push(
    `paused by backpressure ${pausedShare === undefined ? '-' : `${(pausedShare * 100).toFixed(0)}%`}` +
      ` (total ${duration(cur.backpressure_seconds)})` +
      (cur.buffer ? `  memory ${bytes(cur.buffer.bytes)} of ${bytes(cur.buffer.max_bytes)}` : ''),
  );
  out.push(
    `spool ${bytes(cur.spool.bytes)} in ${cur.spool.segments} segments` +
      `${cur.spool.bytes > 0 ? `, oldest ${duration(cur.spool.oldest_age_seconds)}` : ''}` +
      `  checkpoint written ${duration(cur.checkpoint_age_seconds)} ago`,
  );
  const retries = table(cur.retries);
  const dropped = table(cur.dropped);
  if (retries || dropped) out.push(`retries ${retries || '0'}  dropped ${dropped || '0'}`);

  out.push('');
  const files = [...cur.files].sort((a, b) => b.lag_bytes - a.lag_bytes || a.path.localeCompare(b.path));
  const sourceWidth = Math.min(16, Math.max(6, ...files.map((f) => f.source.length)));
  const behindWidth = 10;
  const pathWidth = Math.max(10, width - sourceWidth - behindWidth - 4);
  out.push(`${pad('FILE', pathWidth)}  ${pad('SOURCE', sourceWidth)}  ${'BEHIND'.padStart(behindWidth)}`);
  for (const f of files.slice(0, maxFiles)) {
    out.push(
      `${pad(shortenLeft(f.path, pathWidth), pathWidth)}  ${pad(shortenRight(f.source, sourceWidth), sourceWidth)}  ` +
        bytes(f.lag_bytes).padStart(behindWidth),
    );
  }
  if (files.length > maxFiles) {
    const rest = files.slice(maxFiles);
    out.push(`... and ${rest.length} more files, ${bytes(sum(rest, (f) => f.lag_bytes))} behind`);
  }
  if (files.length === 0) out.push('(no files tracked)');
  return `${out.map((l) => l.trimEnd()).join('\n')}\n`;
}

function table(t: Record<string, number>): string {
  return Object.entries(t)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
}

function perSecond(v: number | undefined, unit: string): string {
  if (v === undefined) return `- ${unit}/s`;
  return `${compact(v)} ${unit}/s`;
}

function compact(v: number): string {
  if (v >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (v >= 1e4) return `${(v / 1e3).toFixed(1)}k`;
  return v >= 100 ? v.toFixed(0) : v.toFixed(1);
}

function bytesPerSecond(v: number | undefined): string {
  return v === undefined ? '- B/s' : `${bytes(v)}/s`;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function bytes(n: number): string {
  let v = n;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${Math.round(v)} B` : `${v.toFixed(1)} ${UNITS[u]}`;
}

export function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '-';
  if (seconds < 60) return `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)}s`;
  const s = Math.floor(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (h === 0) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  if (h < 48) return `${h}h${String(m).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, '0')}h`;
}

function millis(seconds: number): string {
  const ms = seconds * 1000;
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

function pad(text: string, w: number): string {
  return text.length >= w ? text : text + ' '.repeat(w - text.length);
}

function shortenLeft(text: string, w: number): string {
  return text.length <= w ? text : `...${text.slice(text.length - (w - 3))}`;
}

function shortenRight(text: string, w: number): string {
  return text.length <= w ? text : `${text.slice(0, w - 3)}...`;
}
