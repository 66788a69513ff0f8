/**
 * What the real-broker spool tests share: one private broker that can be taken away and brought
 * back, agents started with metrics on, writers appending lines per key, and the questions the
 * tests ask (what is spooled, what was sent, is every line there). Everything started is stopped
 * by `stop()`.
 */
import assert from 'node:assert/strict';
import { registerCodecs } from '../../src/sink/codecs/index.ts';
import { inspectSpool } from '../../src/spool/inspect.ts';
import { consumeAll, createTopic, type KafkaBroker, startBroker, uniqueTopic } from '../kafka/index.ts';
import { type AgentProcess, startAgent, waitFor } from '../support/agent-process.ts';
import { missingCount, SpoolEnv } from './spool-env.ts';

export interface AgentStatus {
  dropped: Record<string, number>;
  spool: { bytes: number };
  topics: { name: string; records_sent: number }[];
}

export class SpoolBrokerRun {
  #broker: KafkaBroker | undefined;
  readonly #envs: SpoolEnv[] = [];
  readonly #agents: AgentProcess[] = [];
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #t0 = Date.now();

  get broker(): KafkaBroker {
    assert.ok(this.#broker, 'start() first');
    return this.#broker;
  }

  async start(): Promise<void> {
    registerCodecs(); // the tests' consumers read zstd batches
    this.#broker = await startBroker();
  }

  async stop(): Promise<void> {
    for (const t of this.#timers) clearInterval(t);
    for (const a of this.#agents) await a.stop(5000).catch(() => undefined);
    await this.#broker?.stop();
    for (const e of this.#envs) e.cleanup();
  }

  /** A topic with 3 partitions and files for three keys; `spool` and `kafka` are extra config lines. */
  newEnv = async (spool: string[], kafka: string[] = []): Promise<SpoolEnv> => {
    const topic = uniqueTopic('spool');
    await createTopic(this.broker.bootstrap, topic, { partitions: 3 });
    const env = new SpoolEnv({
      keys: ['alpha', 'beta', 'gamma'],
      brokers: [this.broker.bootstrap],
      topic,
      kafka,
      metrics: true,
      extra: ['spool:', '  after_ms: 500', ...spool],
    });
    this.#envs.push(env);
    return env;
  };

  mark = (what: string): void => {
    console.error(`[${((Date.now() - this.#t0) / 1000).toFixed(1)}s] ${what}`);
  };

  run = (env: SpoolEnv): AgentProcess => {
    const a = startAgent(['run', '--config', env.config()], { LOGFERRY_METRICS_LISTEN: '127.0.0.1:0' });
    this.#agents.push(a);
    return a;
  };

  /** Appends `perTick` lines per key every 20 ms until stopped. */
  writer = (env: SpoolEnv, perTick: number): { stop(): void } => {
    const t = setInterval(() => env.write(perTick), 20);
    this.#timers.push(t);
    return { stop: () => clearInterval(t) };
  };

  /**
   * The broker goes away by a controlled shutdown (SIGTERM), keeping its data; restart() brings it
   * back on the same port. (kill() works too, but its unclean log recovery makes restart slow.)
   */
  outage = async (): Promise<void> => {
    const broker = this.broker;
    if (broker.pid !== undefined) process.kill(broker.pid, 'SIGTERM');
    await waitFor(() => !broker.isRunning(), 30_000, 'the broker to stop');
  };

  /**
   * Consumes the topic until every written line is there: duplicates (at-least-once) count towards
   * consumeAll's `expected`, so it is asked again for as many more as are missing.
   */
  consumeEvery = async (env: SpoolEnv, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    let expected = env.total;
    for (;;) {
      const all = await consumeAll({
        bootstrap: this.broker.bootstrap,
        topic: env.opts.topic as string,
        expected,
        timeoutMs: Math.max(1000, deadline - Date.now()),
      });
      const missing = missingCount(env, all);
      if (missing === 0 || Date.now() > deadline) return all;
      expected = all.length + missing;
    }
  };

  spooledRecords = async (env: SpoolEnv): Promise<number> => (await inspectSpool(env.dataDir)).records;

  statusOf = async (agent: AgentProcess): Promise<AgentStatus> => {
    const line = agent
      .stderr()
      .split('\n')
      .find((l) => l.includes('metrics and health endpoint listening'));
    assert.ok(line, 'the agent logged its metrics port');
    const { port } = JSON.parse(line) as { port: number };
    const res = await fetch(`http://127.0.0.1:${port}/status`);
    return (await res.json()) as AgentStatus;
  };

  /** Waits until the agent reports `n` records acknowledged by Kafka (cheaper than a consumer group join). */
  waitSent = async (agent: AgentProcess, env: SpoolEnv, n: number): Promise<void> => {
    await waitFor(
      async () => {
        if (!agent.stderr().includes('metrics and health endpoint listening')) return false;
        const s = await this.statusOf(agent);
        return (s.topics.find((t) => t.name === env.opts.topic)?.records_sent ?? 0) >= n;
      },
      30_000,
      `${n} records sent`,
    ).catch(async (err: unknown) => {
      console.error(
        JSON.stringify(await this.statusOf(agent).catch(() => undefined)),
        agent.stderr().slice(-3000),
      );
      throw err;
    });
  };
}
