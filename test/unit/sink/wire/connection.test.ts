import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, test } from 'node:test';
import { BrokerConnection, type ConnectionSettings } from '../../../../src/sink/wire/connection.ts';
import { WireError } from '../../../../src/sink/wire/protocol.ts';
import type { FakeBroker, Received } from './fake-broker.ts';
import { closedPort, reply, responseFrame, settingsFor, startFakeBroker, waitFor } from './fake-broker.ts';

const brokers: FakeBroker[] = [];
const opened: BrokerConnection[] = [];
after(async () => {
  for (const c of opened) c.close();
  for (const b of brokers) await b.close();
});

/** A fake broker that hands each request to `onRequest`, which answers (or not) through `reply`. */
async function fakeBroker(
  onRequest: (req: Received) => void,
  onConnection?: (s: Socket) => void,
): Promise<FakeBroker> {
  const broker = await startFakeBroker({ onRequest, onConnection });
  brokers.push(broker);
  return broker;
}

const settings = (extra: Partial<ConnectionSettings> = {}): ConnectionSettings =>
  settingsFor('conn-test', extra);

async function open(port: number, extra: Partial<ConnectionSettings> = {}): Promise<BrokerConnection> {
  const c = await BrokerConnection.open('127.0.0.1', port, settings(extra));
  opened.push(c);
  return c;
}

/** A request whose body is one int32, `value`. */
function requestOf(c: BrokerConnection, value: number) {
  return c.request(3, 8, (w) => w.int32(value));
}

const echo = (req: Received) => reply(req, req.body);

const isWireError =
  (name: string, pattern = /./) =>
  (e: unknown) =>
    e instanceof WireError && e.name === name && pattern.test(e.message);

test('pipelined requests: each answer goes to its request, in order', { timeout: 5000 }, async () => {
  // The broker holds the answers until all five are in, then answers each in its own write.
  const broker = await fakeBroker(() => {
    if (broker.received.length === 5) for (const r of broker.received) echo(r);
  });
  const c = await open(broker.port);
  const answers = await Promise.all([10, 20, 30, 40, 50].map((v) => requestOf(c, v)));
  assert.deepEqual(
    answers.map((r) => r.int32()),
    [10, 20, 30, 40, 50],
  );
  const ids = broker.received.map((r) => r.correlationId);
  assert.deepEqual(
    ids,
    ids.map((_, i) => (ids[0] as number) + i),
    'consecutive correlation ids',
  );
  assert.deepEqual(
    broker.received.map((r) => [r.apiKey, r.version, r.clientId]),
    Array(5).fill([3, 8, 'conn-test']),
  );
  assert.equal(c.closed, false);
});

test('an answer split across many TCP writes, one byte each, is put together', {
  timeout: 5000,
}, async () => {
  const body = Buffer.alloc(300);
  for (let i = 0; i < body.length; i++) body[i] = (i * 7) & 0xff;
  const broker = await fakeBroker(async (req) => {
    if (broker.received.length > 1) return echo(req);
    const frame = responseFrame(req.correlationId, body);
    for (let i = 0; i < frame.length; i++) {
      req.socket.write(frame.subarray(i, i + 1));
      // A pause now and then so the bytes arrive in separate reads, not coalesced.
      if (i % 4 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    }
  });
  const c = await open(broker.port);
  const r = await c.request(0, 8, (w) => w.int8(1));
  const got = Buffer.alloc(body.length);
  for (let i = 0; i < body.length; i++) got[i] = r.int8() & 0xff;
  assert.ok(got.equals(body));
  assert.throws(() => r.int8(), /ended early/, 'the frame ends where its size says');
  // The connection is still in step afterwards.
  const next = await c.request(0, 8, (w) => w.int8(2));
  assert.equal(next.int8(), 2);
});

test('two answers in one TCP write both parse', { timeout: 5000 }, async () => {
  const pending: Received[] = [];
  const broker = await fakeBroker((req) => {
    pending.push(req);
    if (pending.length === 2) {
      const [a, b] = pending as [Received, Received];
      a.socket.write(
        Buffer.concat([responseFrame(a.correlationId, a.body), responseFrame(b.correlationId, b.body)]),
      );
    }
  });
  const c = await open(broker.port);
  const [x, y] = await Promise.all([requestOf(c, 111), requestOf(c, 222)]);
  assert.equal(x.int32(), 111);
  assert.equal(y.int32(), 222);
  assert.equal(c.closed, false);
});

test('a wrong correlation id fails the connection with KafkaJSConnectionError', {
  timeout: 5000,
}, async () => {
  const broker = await fakeBroker((req) => {
    if (broker.received.length === 2) req.socket.write(responseFrame(req.correlationId + 100, req.body));
  });
  const c = await open(broker.port);
  const first = requestOf(c, 1);
  const second = requestOf(c, 2);
  await assert.rejects(
    first,
    isWireError('KafkaJSConnectionError', /unexpected answer \(correlation id \d+, expected \d+\)/),
  );
  await assert.rejects(second, isWireError('KafkaJSConnectionError', /unexpected answer/));
  assert.equal(c.closed, true);
  await assert.rejects(
    requestOf(c, 3),
    isWireError('KafkaJSConnectionError'),
    'a failed connection takes no request',
  );
  await waitFor(() => broker.closedSockets() === 1);
});

test('an answer nobody asked for fails the connection', { timeout: 5000 }, async () => {
  let server: Socket | undefined;
  const broker = await fakeBroker(
    () => undefined,
    (socket) => {
      server = socket;
    },
  );
  const c = await open(broker.port);
  assert.equal(c.closed, false);
  // Once open (ApiVersions answered), an answer with no request behind it.
  server?.write(responseFrame(2, Buffer.alloc(2)));
  await waitFor(() => c.closed);
  await assert.rejects(requestOf(c, 1), isWireError('KafkaJSConnectionError', /expected none/));
});

test('a request unanswered within requestTimeoutMs: KafkaJSRequestTimeoutError, for every pending request', {
  timeout: 5000,
}, async () => {
  const broker = await fakeBroker(() => undefined);
  const c = await open(broker.port, { requestTimeoutMs: 150 });
  const started = Date.now();
  const a = requestOf(c, 1);
  const b = requestOf(c, 2);
  await assert.rejects(a, isWireError('KafkaJSRequestTimeoutError', /Request timed out/));
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 140 && elapsed < 1500, `timed out after ${elapsed} ms`);
  await assert.rejects(b, isWireError('KafkaJSRequestTimeoutError'));
  assert.equal(c.closed, true);
  // Closed, so that a late answer is never taken for another request's.
  await waitFor(() => broker.closedSockets() === 1);
  await assert.rejects(requestOf(c, 3), isWireError('KafkaJSRequestTimeoutError'));
});

test('an answered request does not time out later', { timeout: 5000 }, async () => {
  const broker = await fakeBroker(echo);
  const c = await open(broker.port, { requestTimeoutMs: 100 });
  assert.equal((await requestOf(c, 5)).int32(), 5);
  await new Promise((resolve) => setTimeout(resolve, 250));
  assert.equal(c.closed, false);
  assert.equal((await requestOf(c, 6)).int32(), 6);
});

test('the broker closing the socket rejects the pending requests with KafkaJSConnectionError', {
  timeout: 5000,
}, async () => {
  const broker = await fakeBroker((req) => {
    if (broker.received.length === 2) req.socket.end();
  });
  const c = await open(broker.port);
  const results = await Promise.allSettled([requestOf(c, 1), requestOf(c, 2)]);
  for (const r of results) {
    assert.equal(r.status, 'rejected');
    assert.ok(
      isWireError('KafkaJSConnectionError', /^127\.0\.0\.1:\d+: /)((r as PromiseRejectedResult).reason),
    );
  }
  assert.equal(c.closed, true);
});

test('close() rejects the pending requests and any later one', { timeout: 5000 }, async () => {
  const broker = await fakeBroker(() => undefined);
  const c = await open(broker.port);
  const pending = requestOf(c, 1);
  c.close();
  await assert.rejects(pending, isWireError('KafkaJSConnectionError', /Connection closed/));
  await assert.rejects(requestOf(c, 2), isWireError('KafkaJSConnectionError', /Connection closed/));
  await waitFor(() => broker.closedSockets() === 1);
});

test('acks=0: a request sent without expecting an answer resolves once written', {
  timeout: 5000,
}, async () => {
  const broker = await fakeBroker(() => undefined);
  const c = await open(broker.port, { requestTimeoutMs: 100 });
  const w = c.writer(0, 8);
  w.int32(77);
  await c.send(w.finish(), false);
  await waitFor(() => broker.received.length === 1);
  assert.equal(broker.received[0]?.body.readInt32BE(0), 77);
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(c.closed, false, 'no answer awaited, so no timeout');
});

test('connecting to a closed port: KafkaJSConnectionError with ECONNREFUSED', { timeout: 5000 }, async () => {
  const port = await closedPort();
  await assert.rejects(
    BrokerConnection.open('127.0.0.1', port, settings()),
    (e: unknown) =>
      isWireError('KafkaJSConnectionError', new RegExp(`^127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`))(e) &&
      // No cause attached: classify.ts reads a chain's innermost error, which must be this one.
      (e as Error).cause === undefined,
  );
});

test('connectTimeoutMs: a TLS connection whose handshake never completes fails with Connection timeout', {
  timeout: 5000,
}, async () => {
  // A plain TCP listener that accepts and says nothing: TCP connects, TLS waits for a ServerHello.
  // (10.255.255.1 is no use here: this sandbox's network accepts the TCP connection at once.)
  const broker = await fakeBroker(() => undefined);
  const started = Date.now();
  await assert.rejects(
    BrokerConnection.open(
      '127.0.0.1',
      broker.port,
      settings({ connectTimeoutMs: 200, tls: { rejectUnauthorized: true } }),
    ),
    isWireError('KafkaJSConnectionError', /^127\.0\.0\.1:\d+: Connection timeout$/),
  );
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 190 && elapsed < 1500, `timed out after ${elapsed} ms`);
  assert.equal(broker.connections(), 1);
  await waitFor(() => broker.closedSockets() === 1);
});

test('ApiVersions comes first on every connection; a broker without Produce v8 (Kafka < 2.4) is refused by name', {
  timeout: 5000,
}, async () => {
  const modern = await fakeBroker(() => undefined);
  await open(modern.port);
  assert.equal(modern.apiVersionsRequests(), 1);
  assert.equal(modern.received.length, 0, 'nothing else asked by opening');

  // Kafka 2.3: Produce up to v7.
  const old = await startFakeBroker({
    onRequest: () => undefined,
    apiVersions: [
      [0, 0, 7],
      [3, 0, 8],
      [18, 0, 2],
      [22, 0, 1],
    ],
  });
  brokers.push(old);
  await assert.rejects(
    BrokerConnection.open('127.0.0.1', old.port, settingsFor('conn-test')),
    (e: unknown) =>
      e instanceof WireError &&
      e.type === 'UNSUPPORTED_VERSION' &&
      /speaks Produce v0-v7, logferry sends v8/.test(e.message),
  );
  await waitFor(() => old.closedSockets() === 1);

  // SASL needs SaslHandshake v1 and SaslAuthenticate v1 as well.
  const noAuthenticate = await startFakeBroker({
    onRequest: () => undefined,
    apiVersions: [
      [0, 3, 12],
      [3, 0, 13],
      [17, 0, 1],
      [18, 0, 4],
      [22, 0, 5],
    ],
  });
  brokers.push(noAuthenticate);
  await assert.rejects(
    BrokerConnection.open(
      '127.0.0.1',
      noAuthenticate.port,
      settingsFor('conn-test', { sasl: { mechanism: 'plain', username: 'u', password: 'p' } }),
    ),
    (e: unknown) => e instanceof WireError && /SaslAuthenticate not at all/.test(e.message),
  );
  assert.equal(noAuthenticate.received.length, 0, 'no SASL request before the versions are known');
});
