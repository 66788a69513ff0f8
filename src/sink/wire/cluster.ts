import { BrokerConnection, type ConnectionSettings } from './connection.ts';
import {
  API,
  type BrokerAddress,
  type MetadataAnswer,
  readMetadataResponse,
  WireError,
  writeMetadataRequest,
} from './protocol.ts';

/**
 * The brokers as the producer sees them: the bootstrap addresses, the nodes the last metadata
 * answer named, and one connection per node, opened when first needed and again after it broke.
 */
export class Cluster {
  readonly #bootstrap: readonly string[];
  readonly #settings: ConnectionSettings;
  #brokers = new Map<number, BrokerAddress>();
  readonly #connections = new Map<number, Promise<BrokerConnection>>();
  /** A connection to any broker (a bootstrap address), for metadata before the nodes are known. */
  #any: Promise<BrokerConnection> | undefined;
  #closed = false;

  constructor(bootstrap: readonly string[], settings: ConnectionSettings) {
    this.#bootstrap = bootstrap;
    this.#settings = settings;
  }

  /** Metadata for `topics` (none: the brokers only), from any broker that answers. */
  async metadata(topics: readonly string[], autoCreate: boolean): Promise<MetadataAnswer> {
    const connection = await this.#anyConnection();
    const answer = readMetadataResponse(
      await connection.request(API.metadata, 8, (w) => writeMetadataRequest(w, topics, autoCreate)),
    );
    if (answer.brokers.size > 0) this.#brokers = answer.brokers;
    return answer;
  }

  /** The connection to node `nodeId`, as the last metadata answer located it. */
  connectionTo(nodeId: number): Promise<BrokerConnection> {
    const cached = this.#connections.get(nodeId);
    if (cached !== undefined) {
      return cached.then(
        (c) => (c.closed ? this.#open(nodeId) : c),
        () => this.#open(nodeId),
      );
    }
    return this.#open(nodeId);
  }

  #open(nodeId: number): Promise<BrokerConnection> {
    if (this.#closed)
      return Promise.reject(new WireError('KafkaJSConnectionError', 'the producer is closed'));
    const broker = this.#brokers.get(nodeId);
    if (broker === undefined) {
      return Promise.reject(
        new WireError('KafkaJSBrokerNotFound', `broker ${nodeId} is not in the cluster's metadata`),
      );
    }
    const opened = BrokerConnection.open(broker.host, broker.port, this.#settings);
    this.#connections.set(nodeId, opened);
    // A failed open is not kept: the next call tries again.
    opened.catch(() => {
      if (this.#connections.get(nodeId) === opened) this.#connections.delete(nodeId);
    });
    return opened;
  }

  async #anyConnection(): Promise<BrokerConnection> {
    const current = await this.#any?.catch(() => undefined);
    if (current !== undefined && !current.closed) return current;
    for (const pending of this.#connections.values()) {
      const c = await pending.catch(() => undefined);
      if (c !== undefined && !c.closed) return c;
    }
    this.#any = this.#openAny();
    return this.#any;
  }

  /** The bootstrap brokers in turn; the first connection error when none answers. */
  async #openAny(): Promise<BrokerConnection> {
    let first: unknown;
    const addresses = [...this.#bootstrap, ...[...this.#brokers.values()].map((b) => `${b.host}:${b.port}`)];
    for (const address of new Set(addresses)) {
      if (this.#closed) break;
      const { host, port } = splitAddress(address);
      try {
        return await BrokerConnection.open(host, port, this.#settings);
      } catch (err) {
        // A broker that refused our credentials or certificate answers for the others too.
        if ((err as WireError).name !== 'KafkaJSConnectionError') throw err;
        first ??= err;
      }
    }
    throw first ?? new WireError('KafkaJSConnectionError', 'the producer is closed');
  }

  close(): void {
    this.#closed = true;
    const all = [...this.#connections.values()];
    if (this.#any !== undefined) all.push(this.#any);
    this.#connections.clear();
    this.#any = undefined;
    for (const p of all)
      p.then(
        (c) => c.close(),
        () => undefined,
      );
  }
}

/** `host:port`, `[v6]:port`; the port defaults to 9092. */
export function splitAddress(address: string): { host: string; port: number } {
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(address);
  if (bracket) return { host: bracket[1] as string, port: Number(bracket[2] ?? 9092) };
  const colon = address.lastIndexOf(':');
  if (colon > 0 && address.indexOf(':') === colon) {
    return { host: address.slice(0, colon), port: Number(address.slice(colon + 1)) };
  }
  return { host: address, port: 9092 };
}
