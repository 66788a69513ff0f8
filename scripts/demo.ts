/**
 * `npm run demo`: the main job on a local default. Starts a local Kafka broker (jars from Maven
 * Central, cached), writes sample logs into a temporary directory, runs the agent on them, and
 * shows records arriving in Kafka (count, rate, a sample record) until Ctrl-C or --duration.
 *
 *   npm run demo                      # runs until Ctrl-C
 *   npm run demo -- --duration 30     # stops by itself after 30 s
 *   npm run demo -- --rate 20000      # sample lines written per second
 */
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { registerCodecs } from '../src/sink/codecs/index.ts';
import { startBroker } from '../test/kafka/broker.ts';
import { startAgent } from '../test/support/agent-process.ts';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '0' },
    rate: { type: 'string', default: '2000' },
  },
});
const durationS = Number(values.duration);
const rate = Math.max(1, Number(values.rate));
const TOPIC = 'logferry-demo';
const PATHS = ['/', '/cart', '/checkout', '/api/items?page=2', '/static/app.js'];

const say = (s: string) => process.stdout.write(`${s}\n`);
// kafkajs schedules negative timeouts under Node 24 (harmless, clamped to 1 ms); keep the demo's output clean.
process.removeAllListeners('warning');
process.on('warning', (w) => {
  if (w.name !== 'TimeoutNegativeWarning') process.stderr.write(`${w.name}: ${w.message}\n`);
});

const dir = mkdtempSync(join(tmpdir(), 'logferry-demo-'));
const logDir = join(dir, 'logs');
mkdirSync(logDir);
say(`logferry demo: sample logs in ${logDir}`);
say('starting a local Kafka broker (the first run fetches its jars from Maven Central, ~1 min)...');
const broker = await startBroker();
say(`Kafka broker ready at ${broker.bootstrap}`);

const config = join(dir, 'logferry.yaml');
writeFileSync(
  config,
  `# written by npm run demo
data_dir: ${join(dir, 'data')}
sources:
  - name: web
    include: ["${logDir}/nginx/*.log"]
    service: web
    parser: nginx
  - name: app
    include: ["${logDir}/app/*.log"]
    service: checkout
    parser: json
sink:
  kafka:
    brokers: ["${broker.bootstrap}"]
    topic: ${TOPIC}
`,
);
mkdirSync(join(logDir, 'nginx'));
mkdirSync(join(logDir, 'app'));

const agent = startAgent(['run', '--config', config], { LOGFERRY_LOG_LEVEL: 'warn' });
say(`agent started (pid ${agent.child.pid}) with ${config}`);

let written = 0;
let seq = 0;
const paths = ['nginx/access.log', 'app/app.log', 'app/worker.log'];
const writer = setInterval(() => {
  const n = Math.ceil(rate / 10);
  const parts: string[] = ['', '', ''];
  for (let i = 0; i < n; i++) {
    const f = seq % 3;
    parts[f] += sampleLine(f, seq++);
  }
  for (let f = 0; f < 3; f++) if (parts[f]) appendFileSync(join(logDir, paths[f]), parts[f]);
  written += n;
}, 100);

registerCodecs(); // the agent compresses with zstd by default
const kafka = new Kafka({
  clientId: 'logferry-demo',
  brokers: [broker.bootstrap],
  logLevel: logLevel.NOTHING,
});
const admin = kafka.admin();
await admin.connect();
await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 3 }], waitForLeaders: true });
const consumer = kafka.consumer({ groupId: `logferry-demo-${process.pid}` });
let sample: string | undefined;
let sampleShown = false;
await consumer.connect();
await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
void consumer.run({
  eachMessage: async ({ message }) => {
    if (sample === undefined && message.value)
      sample = `key=${message.key?.toString()} value=${message.value.toString()}`;
  },
});

const started = Date.now();
let last = { t: started, n: 0 };
const report = setInterval(async () => {
  const n = await countRecords().catch(() => last.n);
  const now = Date.now();
  const perS = Math.round(((n - last.n) * 1000) / Math.max(1, now - last.t));
  say(`lines written ${written}, records in Kafka ${n} (${perS}/s)`);
  if (sample !== undefined && !sampleShown) {
    say(`sample record: ${sample}`);
    sampleShown = true;
  }
  last = { t: now, n };
}, 2000);

let stopping = false;
async function stop(why: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  say(`stopping (${why})...`);
  clearInterval(writer);
  clearInterval(report);
  const end = Date.now() + 10_000;
  while (Date.now() < end && (await countRecords().catch(() => 0)) < written) await sleep(200);
  const delivered = await countRecords().catch(() => -1);
  const code = await agent.stop();
  await consumer.disconnect().catch(() => {});
  await admin.disconnect().catch(() => {});
  await broker.stop();
  rmSync(dir, { recursive: true, force: true });
  say(`done: ${written} lines written, ${delivered} records in Kafka, agent exit code ${code}`);
  process.exit(delivered >= written && code === 0 ? 0 : 1);
}
process.once('SIGINT', () => void stop('Ctrl-C'));
process.once('SIGTERM', () => void stop('SIGTERM'));
if (durationS > 0) setTimeout(() => void stop(`--duration ${durationS}`), durationS * 1000);
agent.child.once('exit', (code) => {
  if (!stopping) {
    say(`agent exited unexpectedly (code ${code}):\n${agent.stderr()}`);
    void stop('agent exited');
  }
});

async function countRecords(): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(TOPIC);
  let n = 0;
  for (const o of offsets) n += Number(o.high) - Number(o.low);
  return n;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function sampleLine(kind: number, i: number): string {
  const ts = new Date().toISOString();
  if (kind === 0) {
    const status = i % 17 === 0 ? 500 : 200;
    return `10.0.${i % 255}.${(i * 7) % 255} - - [${clf(new Date())}] "GET ${PATHS[i % PATHS.length]} HTTP/1.1" ${status} ${512 + (i % 4096)} "-" "Mozilla/5.0 (X11; Linux x86_64)"\n`;
  }
  const level = i % 50 === 0 ? 'error' : 'info';
  return `${JSON.stringify({ ts, level, msg: 'order processed', order_id: i, user: `u${i % 1000}`, duration_ms: i % 250 })}\n`;
}

function clf(d: Date): string {
  const m = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][
    d.getUTCMonth()
  ];
  const p = (x: number) => String(x).padStart(2, '0');
  return `${p(d.getUTCDate())}/${m}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}
