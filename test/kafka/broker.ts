/**
 * Real Apache Kafka brokers (KRaft, combined broker+controller nodes) for tests and the demo.
 *
 *   startBroker()  one node, its own single-voter quorum (formatted with `--standalone`)
 *   startCluster() N nodes in one static quorum, on one machine, ports and directories apart
 *
 * Each node lives in a directory:
 *   server.properties  log4j2.properties  broker.log (the JVM's stdout+stderr)  data/ (log.dirs)
 *
 * No broker outlives the Node process that started it, three ways over:
 *   - a process 'exit' hook SIGKILLs every live broker;
 *   - SIGINT/SIGTERM/SIGHUP do the same when nobody else listens for them (then re-raise);
 *   - a tiny `sh` watchdog per broker holds a pipe from this process and SIGKILLs the broker when
 *     the pipe closes, which happens even when this process is SIGKILLed.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel } from 'kafkajs';
import { checkJava, kafkaClasspath, runJava } from './classpath.ts';
import { KafkaHarnessError } from './errors.ts';

export type SecurityProtocol = 'PLAINTEXT' | 'SSL' | 'SASL_PLAINTEXT' | 'SASL_SSL';

/** An extra listener next to the always-present PLAINTEXT one (which brokers also talk to each other on). */
export interface ListenerSpec {
  /** Kafka listener name, upper case, e.g. 'SASL_SSL' or 'MTLS'. Per-listener settings go into
   * serverProperties as `listener.name.<lower-case name>.<setting>`. */
  name: string;
  securityProtocol: SecurityProtocol;
  /** A fixed port (single broker only); a free one by default. */
  port?: number;
}

/** A SCRAM credential written into the metadata log at format time (`StorageTool format --add-scram`). */
export interface ScramUser {
  mechanism: 'SCRAM-SHA-256' | 'SCRAM-SHA-512';
  username: string;
  password: string;
}

export type ServerProperties = Readonly<Record<string, string | number | boolean>>;

interface CommonOptions {
  /** Extra or overriding server properties; applied last. */
  serverProperties?: ServerProperties;
  listeners?: readonly ListenerSpec[];
  /** auto.create.topics.enable; default true. */
  autoCreateTopics?: boolean;
  scramUsers?: readonly ScramUser[];
  /** JVM heap (-Xmx) per node in MiB; default 512 for one broker, 384 per cluster node. */
  heapMb?: number;
  /** How long start and restart may take before failing; default 120 s. */
  startTimeoutMs?: number;
  /** How long a clean stop may take before SIGKILL; default 20 s. */
  stopTimeoutMs?: number;
  /** Told about slow steps (the first Maven download). */
  onProgress?: (message: string) => void;
}

export interface BrokerOptions extends CommonOptions {
  /** Directory for config, data and broker.log. Kept on stop; already-formatted data is reused.
   * Default: a fresh temp dir, deleted by stop() (kept when LOGFERRY_KEEP_KAFKA_LOGS=1). */
  logDir?: string;
  /** PLAINTEXT port; a free one by default. */
  port?: number;
  controllerPort?: number;
}

export interface ClusterOptions extends CommonOptions {
  /** Parent directory for node-1, node-2, ...; default a fresh temp dir, deleted by stop(). */
  baseDir?: string;
}

export interface KafkaNode {
  readonly nodeId: number;
  /** '127.0.0.1:PORT' of this node's PLAINTEXT listener. */
  readonly bootstrap: string;
  readonly port: number;
  readonly controllerPort: number;
  /** Every client listener's port by name, PLAINTEXT included. */
  readonly listenerPorts: Readonly<Record<string, number>>;
  /** The node's directory (config, broker.log, data/). */
  readonly logDir: string;
  /** The JVM's stdout and stderr. */
  readonly logFile: string;
  readonly pid: number | undefined;
  isRunning(): boolean;
  /** SIGTERM (controlled shutdown), then SIGKILL after stopTimeoutMs. */
  stop(): Promise<void>;
  /** SIGKILL now; resolves when the process is gone. */
  kill(): Promise<void>;
  /** Stop if running, then start again with the same ports and data; resolves when it serves metadata. */
  restart(): Promise<void>;
}

export interface KafkaBroker extends KafkaNode {
  /** '127.0.0.1:PORT' of the named listener. */
  bootstrapFor(listener: string): string;
}

export interface KafkaCluster {
  /** All nodes' PLAINTEXT addresses, comma-separated. */
  readonly bootstrap: string;
  readonly brokers: readonly string[];
  readonly nodes: readonly KafkaNode[];
  readonly baseDir: string;
  /** Every node's address on the named listener, comma-separated. */
  bootstrapFor(listener: string): string;
  stop(): Promise<void>;
  /** SIGKILL node i (0-based index into nodes). */
  kill(i: number): Promise<void>;
  /** Restart node i (0-based) and wait until it is back in the cluster. */
  restart(i: number): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Process bookkeeping: nothing started here survives this process.

const liveBrokers = new Set<ChildProcess>();
const tempDirsToRemove = new Set<string>();
let hooksInstalled = false;

function killAllNow(): void {
  for (const child of liveBrokers) child.kill('SIGKILL');
  liveBrokers.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  // Someone else (a CLI, the test runner) handles this signal and will stop brokers or exit; the
  // 'exit' hook and the watchdogs still cover us then.
  if (process.listenerCount(signal) > 1) return;
  killAllNow();
  process.removeListener(signal, onSignal);
  process.kill(process.pid, signal);
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => {
    killAllNow();
    for (const dir of tempDirsToRemove) {
      try {
        rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
      } catch {
        // A JVM killed a moment ago may still hold files open; a leftover temp dir is harmless.
      }
    }
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);
}

/** SIGKILLs pid once this process's end of its stdin pipe closes, however this process dies. */
function spawnWatchdog(pid: number): ChildProcess {
  const dog = spawn('/bin/sh', ['-c', 'read _ ; kill -9 "$0" 2>/dev/null', String(pid)], {
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: true,
  });
  dog.unref();
  // The pipe is a net.Socket underneath; unref it so it does not keep the event loop alive.
  (dog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  dog.on('error', () => {});
  return dog;
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** Free TCP ports on 127.0.0.1, all held open together so they are distinct. */
export async function freePorts(n: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const srv = net.createServer();
      servers.push(srv);
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(0, '127.0.0.1', () => resolve());
      });
    }
    return servers.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id; // the format tool's argument parser would read it as a flag
  }
}

function escapeProperty(value: string): string {
  return value
    .replace(/\\/g, '\\\\')
    .replace(/\n/g, '\\n')
    .replace(/\r/g, '\\r')
    .replace(/^\s/, (c) => `\\${c}`);
}

function toPropertiesFile(props: ServerProperties): string {
  let out = '# Written by test/kafka/broker.ts\n';
  for (const [k, v] of Object.entries(props)) out += `${k}=${escapeProperty(String(v))}\n`;
  return out;
}

const BROKER_LOG4J = `status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = out
logger.request.name = kafka.request.logger
logger.request.level = WARN
`;

/** LOGFERRY_KAFKA_JVM_OPTS: extra JVM flags for every broker, space-separated (they come last and win). */
function jvmOptsFromEnv(): string[] {
  return (process.env['LOGFERRY_KAFKA_JVM_OPTS'] ?? '').split(/\s+/).filter((o) => o !== '');
}

function logTail(file: string, lines = 25): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

// ---------------------------------------------------------------------------------------------
// One node

interface NodeSpec {
  nodeId: number;
  dir: string;
  port: number;
  controllerPort: number;
  extraListeners: readonly { name: string; securityProtocol: SecurityProtocol; port: number }[];
  /** controller.quorum.voters for a cluster; undefined for a standalone node. */
  voters: string | undefined;
  clusterSize: number;
  heapMb: number;
  opts: CommonOptions;
}

function serverProperties(s: NodeSpec): ServerProperties {
  const rf = Math.min(3, s.clusterSize);
  const minIsr = rf > 1 ? 2 : 1;
  const clientListeners = [
    { name: 'PLAINTEXT', securityProtocol: 'PLAINTEXT', port: s.port },
    ...s.extraListeners,
  ];
  const props: Record<string, string | number | boolean> = {
    'process.roles': 'broker,controller',
    'node.id': s.nodeId,
    listeners: [
      ...clientListeners.map((l) => `${l.name}://127.0.0.1:${l.port}`),
      `CONTROLLER://127.0.0.1:${s.controllerPort}`,
    ].join(','),
    'advertised.listeners': clientListeners.map((l) => `${l.name}://127.0.0.1:${l.port}`).join(','),
    'listener.security.protocol.map': [
      ...clientListeners.map((l) => `${l.name}:${l.securityProtocol}`),
      'CONTROLLER:PLAINTEXT',
    ].join(','),
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'log.dirs': path.join(s.dir, 'data'),
    'num.partitions': 3,
    'default.replication.factor': rf,
    'min.insync.replicas': minIsr,
    'offsets.topic.replication.factor': rf,
    'offsets.topic.num.partitions': 5,
    'transaction.state.log.replication.factor': rf,
    'transaction.state.log.min.isr': minIsr,
    'transaction.state.log.num.partitions': 5,
    'share.coordinator.state.topic.replication.factor': rf,
    'share.coordinator.state.topic.min.isr': minIsr,
    'group.initial.rebalance.delay.ms': 0,
    'auto.create.topics.enable': s.opts.autoCreateTopics ?? true,
    // Tests kill nodes on purpose: notice a dead one in seconds rather than the default 9 s.
    'broker.session.timeout.ms': s.clusterSize > 1 ? 4000 : 9000,
    'broker.heartbeat.interval.ms': s.clusterSize > 1 ? 500 : 2000,
    'log.initial.task.delay.ms': 1000,
  };
  if (s.voters === undefined) props['controller.quorum.bootstrap.servers'] = `127.0.0.1:${s.controllerPort}`;
  else props['controller.quorum.voters'] = s.voters;
  return { ...props, ...s.opts.serverProperties };
}

class BrokerNode implements KafkaBroker {
  readonly nodeId: number;
  readonly bootstrap: string;
  readonly port: number;
  readonly controllerPort: number;
  readonly listenerPorts: Readonly<Record<string, number>>;
  readonly logDir: string;
  readonly logFile: string;
  readonly #spec: NodeSpec;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();

  constructor(spec: NodeSpec) {
    this.#spec = spec;
    this.nodeId = spec.nodeId;
    this.port = spec.port;
    this.controllerPort = spec.controllerPort;
    this.bootstrap = `127.0.0.1:${spec.port}`;
    const ports: Record<string, number> = { PLAINTEXT: spec.port };
    for (const l of spec.extraListeners) ports[l.name] = l.port;
    this.listenerPorts = ports;
    this.logDir = spec.dir;
    this.logFile = path.join(spec.dir, 'broker.log');
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  bootstrapFor(listener: string): string {
    const port = this.listenerPorts[listener];
    if (port === undefined) throw new Error(`broker has no listener ${listener}`);
    return `127.0.0.1:${port}`;
  }

  isRunning(): boolean {
    return this.#child !== undefined;
  }

  /** Writes config and formats data/ unless it already holds a formatted log. */
  async prepare(clusterId: string): Promise<void> {
    const dir = this.#spec.dir;
    await mkdir(dir, { recursive: true });
    const propsFile = path.join(dir, 'server.properties');
    await writeFile(propsFile, toPropertiesFile(serverProperties(this.#spec)));
    await writeFile(path.join(dir, 'log4j2.properties'), BROKER_LOG4J);
    if (existsSync(path.join(dir, 'data', 'meta.properties'))) return;
    const args = ['format', '--config', propsFile, `--cluster-id=${clusterId}`];
    if (this.#spec.voters === undefined) args.push('--standalone');
    for (const u of this.#spec.opts.scramUsers ?? []) {
      args.push('--add-scram', `${u.mechanism}=[name=${u.username},password=${u.password}]`);
    }
    await runJava('kafka.tools.StorageTool', args, { timeoutMs: 60_000 });
  }

  async spawn(): Promise<void> {
    if (this.#child) return;
    installHooks();
    const java = await checkJava();
    const cp = await kafkaClasspath();
    const dir = this.#spec.dir;
    const fd = openSync(this.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(
        java,
        [
          `-Xmx${this.#spec.heapMb}m`,
          '-Xms128m',
          '-XX:+UseG1GC',
          '-XX:MaxGCPauseMillis=20',
          '-XX:+ExitOnOutOfMemoryError',
          '-Djava.awt.headless=true',
          `-Dlog4j2.configurationFile=${path.join(dir, 'log4j2.properties')}`,
          `-Dkafka.logs.dir=${dir}`,
          ...jvmOptsFromEnv(),
          '-cp',
          cp,
          'kafka.Kafka',
          path.join(dir, 'server.properties'),
        ],
        // Own process group: a Ctrl-C in the terminal reaches us, and we decide how the broker stops.
        { stdio: ['ignore', fd, fd], detached: true },
      );
    } finally {
      closeSync(fd);
    }
    child.unref();
    this.#child = child;
    liveBrokers.add(child);
    const dog = child.pid !== undefined ? spawnWatchdog(child.pid) : undefined;
    this.#exited = new Promise<void>((resolve) => {
      const done = () => {
        liveBrokers.delete(child);
        dog?.kill('SIGKILL');
        if (this.#child === child) this.#child = undefined;
        resolve();
      };
      child.once('exit', done);
      child.once('error', done);
    });
  }

  /** Resolves when this node answers a metadata request that lists every node in `expect`. */
  async waitReady(expect: readonly number[], deadline: number): Promise<void> {
    const kafka = new Kafka({
      clientId: 'logferry-test-harness',
      brokers: [this.bootstrap],
      connectionTimeout: 1000,
      requestTimeout: 5000,
      retry: { retries: 0 },
      logLevel: logLevel.NOTHING,
    });
    for (;;) {
      if (!this.#child) {
        console.error(`--- ${this.logFile} (last lines) ---\n${logTail(this.logFile)}\n---`);
        throw new KafkaHarnessError(`Kafka node ${this.nodeId} exited during start-up: see ${this.logFile}`);
      }
      const admin = kafka.admin();
      try {
        await admin.connect();
        const { brokers } = await admin.describeCluster();
        if (expect.every((id) => brokers.some((b) => b.nodeId === id))) return;
      } catch {
        // not up yet
      } finally {
        await admin.disconnect().catch(() => {});
      }
      if (Date.now() > deadline) {
        console.error(`--- ${this.logFile} (last lines) ---\n${logTail(this.logFile)}\n---`);
        throw new KafkaHarnessError(
          `Kafka node ${this.nodeId} did not answer metadata requests in time: see ${this.logFile}`,
        );
      }
      await sleep(250);
    }
  }

  /** Set for a broker in a temp dir: stop() deletes it (unless LOGFERRY_KEEP_KAFKA_LOGS=1). */
  removeOnStop: string | undefined;

  async stop(): Promise<void> {
    await this.#stopProcess();
    const dir = this.removeOnStop;
    if (dir !== undefined && !keepLogs()) {
      await rm(dir, { recursive: true, force: true, maxRetries: 3 });
      tempDirsToRemove.delete(dir);
    }
  }

  #stopProcess(): Promise<void> {
    return this.#terminate('SIGTERM', this.#spec.opts.stopTimeoutMs ?? 20_000);
  }

  kill(): Promise<void> {
    return this.#terminate('SIGKILL', 10_000);
  }

  restart(): Promise<void> {
    return this.restartInto([this.nodeId]);
  }

  /** Restarts and waits until this node's metadata lists every node in `expect`. */
  async restartInto(expect: readonly number[]): Promise<void> {
    await this.#stopProcess();
    await this.spawn();
    await this.waitReady(expect, Date.now() + (this.#spec.opts.startTimeoutMs ?? 120_000));
  }

  async #terminate(signal: NodeJS.Signals, graceMs: number): Promise<void> {
    const child = this.#child;
    if (!child) return;
    child.kill(signal);
    // The timer also keeps the event loop alive while we wait for an unref'd child.
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((r) => {
      timer = setTimeout(() => r(true), graceMs);
    });
    const late = await Promise.race([this.#exited.then(() => false), timedOut]);
    clearTimeout(timer);
    if (late) {
      child.kill('SIGKILL');
      await this.#exited;
    }
  }
}

async function makeBaseDir(requested: string | undefined, prefix: string): Promise<[string, boolean]> {
  if (requested) {
    await mkdir(requested, { recursive: true });
    return [path.resolve(requested), false];
  }
  return [await mkdtemp(path.join(os.tmpdir(), prefix)), true];
}

function keepLogs(): boolean {
  return process.env['LOGFERRY_KEEP_KAFKA_LOGS'] === '1';
}

async function allocateListeners(
  listeners: readonly ListenerSpec[],
): Promise<{ name: string; securityProtocol: SecurityProtocol; port: number }[]> {
  const free = await freePorts(listeners.length);
  return listeners.map((l, i) => {
    const name = l.name.toUpperCase();
    if (name === 'PLAINTEXT' || name === 'CONTROLLER') throw new Error(`listener name ${name} is reserved`);
    return { name, securityProtocol: l.securityProtocol, port: l.port ?? free[i] };
  });
}

// ---------------------------------------------------------------------------------------------
// Public API

/** Starts one KRaft node (broker + controller) on 127.0.0.1 and resolves once it serves metadata. */
export async function startBroker(opts: BrokerOptions = {}): Promise<KafkaBroker> {
  // Java/Maven problems surface here, before any directory is made.
  await kafkaClasspath({ onResolve: opts.onProgress });
  const [dir, temporary] = await makeBaseDir(opts.logDir, 'logferry-kafka-');
  if (temporary) tempDirsToRemove.add(dir);
  const [p, c] = await freePorts(2);
  const node = new BrokerNode({
    nodeId: 1,
    dir,
    port: opts.port ?? p,
    controllerPort: opts.controllerPort ?? c,
    extraListeners: await allocateListeners(opts.listeners ?? []),
    voters: undefined,
    clusterSize: 1,
    heapMb: opts.heapMb ?? 512,
    opts,
  });
  try {
    await node.prepare(newClusterId());
    await node.spawn();
    await node.waitReady([1], Date.now() + (opts.startTimeoutMs ?? 120_000));
  } catch (err) {
    await node.kill();
    if (temporary) tempDirsToRemove.delete(dir); // keep the log for the post-mortem
    throw err;
  }
  // A temp dir goes with a clean stop (or with this process); after a failed start it stays for the post-mortem.
  if (temporary) node.removeOnStop = dir;
  return node;
}

/**
 * Starts `size` combined broker+controller nodes (node ids 1..size) forming one static KRaft quorum,
 * and resolves once every node lists every broker. Internal topics get replication factor
 * min(3, size) and min.insync.replicas 2 (1 for a single node).
 */
export async function startCluster(size = 3, opts: ClusterOptions = {}): Promise<KafkaCluster> {
  await kafkaClasspath({ onResolve: opts.onProgress });
  const [baseDir, temporary] = await makeBaseDir(opts.baseDir, 'logferry-kafka-cluster-');
  if (temporary) tempDirsToRemove.add(baseDir);
  const ports = await freePorts(2 * size);
  const voters = Array.from({ length: size }, (_, i) => `${i + 1}@127.0.0.1:${ports[size + i]}`).join(',');
  const nodes: BrokerNode[] = [];
  for (let i = 0; i < size; i++) {
    nodes.push(
      new BrokerNode({
        nodeId: i + 1,
        dir: path.join(baseDir, `node-${i + 1}`),
        port: ports[i],
        controllerPort: ports[size + i],
        extraListeners: await allocateListeners(
          (opts.listeners ?? []).map((l) => ({ ...l, port: undefined })),
        ),
        voters,
        clusterSize: size,
        heapMb: opts.heapMb ?? 384,
        opts,
      }),
    );
  }
  const ids = nodes.map((n) => n.nodeId);
  const clusterId = newClusterId();
  try {
    await Promise.all(nodes.map((n) => n.prepare(clusterId)));
    await Promise.all(nodes.map((n) => n.spawn()));
    const deadline = Date.now() + (opts.startTimeoutMs ?? 120_000);
    await Promise.all(nodes.map((n) => n.waitReady(ids, deadline)));
  } catch (err) {
    await Promise.all(nodes.map((n) => n.kill()));
    if (temporary) tempDirsToRemove.delete(baseDir);
    throw err;
  }
  const node = (i: number): BrokerNode => {
    const n = nodes[i];
    if (!n) throw new RangeError(`no node ${i}: the cluster has nodes 0..${size - 1}`);
    return n;
  };
  const brokers = nodes.map((n) => n.bootstrap);
  return {
    bootstrap: brokers.join(','),
    brokers,
    nodes,
    baseDir,
    bootstrapFor: (listener) => nodes.map((n) => n.bootstrapFor(listener)).join(','),
    stop: async () => {
      // All at once: stopped one by one, the last nodes would wait on a quorum that is gone.
      await Promise.all(nodes.map((n) => n.stop()));
      if (temporary && !keepLogs()) {
        await rm(baseDir, { recursive: true, force: true, maxRetries: 3 });
        tempDirsToRemove.delete(baseDir);
      }
    },
    kill: (i) => node(i).kill(),
    restart: (i) => node(i).restartInto(ids),
  };
}
