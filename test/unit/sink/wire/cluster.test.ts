import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Cluster, splitAddress } from '../../../../src/sink/wire/cluster.ts';
import type { ConnectionSettings } from '../../../../src/sink/wire/connection.ts';
import { WireError } from '../../../../src/sink/wire/protocol.ts';
import type { FakeBroker, Received } from './fake-broker.ts';
import { closedPort, metadataAnswer, reply, settingsFor, startFakeBroker, waitFor } from './fake-broker.ts';

// --- addresses ----------------------------------------------------------------------------------

test('splitAddress: host:port, a host alone (9092), [v6]:port, a bare IPv6 address', () => {
  assert.deepEqual(splitAddress('h:1'), { host: 'h', port: 1 });
  assert.deepEqual(splitAddress('kafka-1.internal:9093'), { host: 'kafka-1.internal', port: 9093 });
  assert.deepEqual(splitAddress('h'), { host: 'h', port: 9092 });
  assert.deepEqual(splitAddress('[::1]:9093'), { host: '::1', port: 9093 });
  assert.deepEqual(splitAddress('[fe80::1]'), { host: 'fe80::1', port: 9092 });
  assert.deepEqual(splitAddress('::1'), { host: '::1', port: 9092 }, 'no port: the whole string is the host');
  assert.deepEqual(splitAddress('10.0.0.7:19092'), { host: '10.0.0.7', port: 19092 });
});

// --- a fake broker answering Metadata v8 ---------------------------------------------------------

/** A Metadata request as the fake broker read it. */
interface MetadataRequest {
  apiKey: number;
  version: number;
  topics: string[];
  autoCreate: boolean;
}

interface MetadataBroker extends FakeBroker {
  requests: MetadataRequest[];
}

const brokers: FakeBroker[] = [];
const clusters: Cluster[] = [];
after(async () => {
  for (const c of clusters) c.close();
  for (const b of brokers) await b.close();
});

/** The topics and auto-creation flag of a Metadata request body. */
function metadataRequestOf(req: Received): MetadataRequest {
  const { body } = req;
  const topics: string[] = [];
  const n = body.readInt32BE(0);
  let at = 4;
  for (let i = 0; i < n; i++) {
    const len = body.readInt16BE(at);
    topics.push(body.toString('utf8', at + 2, at + 2 + len));
    at += 2 + len;
  }
  return { apiKey: req.apiKey, version: req.version, topics, autoCreate: body[at] === 1 };
}

/** A broker that is node `nodeId` and says so in every Metadata v8 answer. */
async function fakeBroker(nodeId: number): Promise<MetadataBroker> {
  const requests: MetadataRequest[] = [];
  const broker = await startFakeBroker({
    onRequest: (req) => {
      const metadata = metadataRequestOf(req);
      requests.push(metadata);
      if (req.apiKey !== 3 || req.version !== 8) {
        req.socket.destroy();
        return;
      }
      reply(req, metadataAnswer(nodeId, broker.port, metadata.topics));
    },
  });
  brokers.push(broker);
  return { ...broker, requests };
}

const SETTINGS: ConnectionSettings = settingsFor('cluster-test');

function cluster(bootstrap: string[]): Cluster {
  const c = new Cluster(bootstrap, SETTINGS);
  clusters.push(c);
  return c;
}

test('metadata from a bootstrap broker, then a connection to the node it names', {
  timeout: 5000,
}, async () => {
  const broker = await fakeBroker(1);
  const c = cluster([`127.0.0.1:${broker.port}`]);
  const answer = await c.metadata([], false);
  assert.deepEqual([...answer.brokers.values()], [{ nodeId: 1, host: '127.0.0.1', port: broker.port }]);
  assert.deepEqual(broker.requests, [{ apiKey: 3, version: 8, topics: [], autoCreate: false }]);
  assert.equal(broker.connections(), 1);

  const node1 = await c.connectionTo(1);
  assert.equal(node1.address, `127.0.0.1:${broker.port}`);
  assert.equal(node1.closed, false);
  assert.equal(broker.connections(), 2, 'one connection per node, besides the bootstrap one');
  assert.equal(await c.connectionTo(1), node1, 'the node connection is kept');
  assert.equal(broker.connections(), 2);

  // Metadata with topics and auto-creation, on a connection already open.
  const logs = await c.metadata(['logs'], true);
  assert.deepEqual(logs.topics.get('logs'), { errorCode: 0, meta: { leaders: [1] } });
  assert.deepEqual(broker.requests[1], { apiKey: 3, version: 8, topics: ['logs'], autoCreate: true });
  assert.equal(broker.connections(), 2);
});

test('a node connection that broke is opened again', { timeout: 5000 }, async () => {
  const broker = await fakeBroker(1);
  const c = cluster([`127.0.0.1:${broker.port}`]);
  await c.metadata([], false);
  const first = await c.connectionTo(1);
  first.close();
  const second = await c.connectionTo(1);
  assert.notEqual(second, first);
  assert.equal(second.closed, false);
  assert.equal(broker.connections(), 3);
});

test('connectionTo a node the metadata did not name: KafkaJSBrokerNotFound', { timeout: 5000 }, async () => {
  const broker = await fakeBroker(1);
  const c = cluster([`127.0.0.1:${broker.port}`]);
  await assert.rejects(
    c.connectionTo(1),
    (e: unknown) => e instanceof WireError && e.name === 'KafkaJSBrokerNotFound',
    'no metadata yet: no node is known',
  );
  await c.metadata([], false);
  await assert.rejects(
    c.connectionTo(7),
    (e: unknown) =>
      e instanceof WireError && e.name === 'KafkaJSBrokerNotFound' && /broker 7/.test(e.message),
  );
});

test('two bootstrap addresses, the first refused: metadata comes from the second', {
  timeout: 5000,
}, async () => {
  const refused = await closedPort();
  const broker = await fakeBroker(2);
  const c = cluster([`127.0.0.1:${refused}`, `127.0.0.1:${broker.port}`]);
  const answer = await c.metadata([], false);
  assert.deepEqual([...answer.brokers.keys()], [2]);
  assert.equal(broker.requests.length, 1);
});

test('no bootstrap broker answers: the first connection error', { timeout: 5000 }, async () => {
  const a = await closedPort();
  const b = await closedPort();
  const c = cluster([`127.0.0.1:${a}`, `127.0.0.1:${b}`]);
  await assert.rejects(
    c.metadata([], false),
    (e: unknown) =>
      e instanceof WireError &&
      e.name === 'KafkaJSConnectionError' &&
      e.message.startsWith(`127.0.0.1:${a}: `) &&
      /ECONNREFUSED/.test(e.message),
  );
});

test('close() closes every connection, and nothing opens after it', { timeout: 5000 }, async () => {
  const broker = await fakeBroker(1);
  const c = cluster([`127.0.0.1:${broker.port}`]);
  await c.metadata([], false);
  const node1 = await c.connectionTo(1);
  assert.equal(broker.openSockets(), 2);
  c.close();
  await waitFor(() => node1.closed && broker.openSockets() === 0);
  await assert.rejects(
    c.connectionTo(1),
    (e: unknown) => e instanceof WireError && e.name === 'KafkaJSConnectionError' && /closed/.test(e.message),
  );
  await assert.rejects(
    c.metadata([], false),
    (e: unknown) => e instanceof WireError && e.name === 'KafkaJSConnectionError',
  );
  assert.equal(broker.connections(), 2, 'no connection after close');
});
