import { loadConfig } from '../config/load.ts';
import { ExitCode } from '../model/errors.ts';
import { inspectSpool, readSpoolBatches } from '../spool/inspect.ts';
import { decodeValues } from '../spool/spool-payload.ts';

export interface SpoolCommandOptions {
  config: string;
  json?: boolean;
  out?: (text: string) => void;
}

/**
 * `logferry spool inspect`: what the spool under data_dir holds, read without changing it (safe
 * next to a running agent). Plain text by default, one JSON document with --json.
 */
export async function spoolInspectCommand(opts: SpoolCommandOptions): Promise<number> {
  const out = opts.out ?? ((t: string) => process.stdout.write(t));
  const config = loadConfig(opts.config);
  const s = await inspectSpool(config.data_dir);
  if (opts.json) {
    out(`${JSON.stringify(s, null, 2)}\n`);
    return ExitCode.ok;
  }
  const time = (ms: number | undefined) => (ms === undefined ? '-' : new Date(ms).toISOString());
  const lines = [
    `spool ${s.dir}`,
    `segments ${s.segments.length}  batches ${s.frames}  records ${s.records}  bytes ${s.bytes}`,
    `oldest ${time(s.oldestTime)}  newest ${time(s.newestTime)}`,
    `state ${s.state}  damaged ranges ${s.damagedRanges} (${s.damagedBytes} bytes)  quarantine files ${s.quarantineFiles}`,
  ];
  const topics = Object.entries(s.topics);
  if (topics.length > 0) {
    lines.push('topic  batches  records');
    for (const [name, t] of topics) lines.push(`${name}  ${t.frames}  ${t.records}`);
  }
  if (s.segments.length > 0) {
    lines.push('segment  bytes  batches  records  damaged_bytes');
    for (const g of s.segments)
      lines.push(`${g.id}  ${g.bytes}  ${g.frames}  ${g.records}  ${g.damagedBytes}`);
  }
  out(`${lines.join('\n')}\n`);
  return ExitCode.ok;
}

const PROGRESS_EVERY_MS = 2000;

/**
 * `logferry spool drain --dry-run`: every spooled record, oldest first, as NDJSON
 * (`{"topic","key","value","spooled_at"}`), without sending or removing anything. Draining for
 * real is the running agent's job: it replays the spool as soon as the brokers answer.
 */
export async function spoolDrainCommand(
  opts: SpoolCommandOptions & { dryRun: boolean; err?: (text: string) => void },
): Promise<number> {
  const out = opts.out ?? ((t: string) => process.stdout.write(t));
  const err = opts.err ?? ((t: string) => process.stderr.write(t));
  if (!opts.dryRun) {
    err(
      'logferry: spool drain only prints (--dry-run): the running agent drains the spool itself once the brokers answer\n',
    );
    return ExitCode.usage;
  }
  const config = loadConfig(opts.config);
  let records = 0;
  let lastProgress = Date.now();
  for await (const b of readSpoolBatches(config.data_dir)) {
    let values: string[];
    try {
      values = (await decodeValues(b)).values;
    } catch (e) {
      err(
        `logferry: a spooled batch of ${b.records} records could not be decoded (${(e as Error).message}); skipped\n`,
      );
      continue;
    }
    const spooledAt = new Date(b.createdAt).toISOString();
    let text = '';
    for (let i = 0; i < values.length; i++) {
      text += `${JSON.stringify({ topic: b.topic, key: b.keys?.[i] ?? null, value: asJson(values[i]), spooled_at: spooledAt })}\n`;
    }
    out(text);
    records += values.length;
    // Progress on stderr, so a large spool shows it is moving without mixing into the NDJSON.
    const now = Date.now();
    if (now - lastProgress >= PROGRESS_EVERY_MS) {
      lastProgress = now;
      err(`logferry: ${records} spooled records printed so far\n`);
    }
  }
  err(`logferry: ${records} spooled records printed; nothing was sent or removed\n`);
  return ExitCode.ok;
}

/** A record value is the agent's JSON document; shown as such, or as a string when it is not JSON. */
function asJson(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}
