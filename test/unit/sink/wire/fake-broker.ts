/**
 * A fake Kafka broker on 127.0.0.1 for the wire tests: it accepts sockets, puts size-prefixed
 * request frames together, parses the request header v1 (api key, version, correlation id,
 * client id) and hands each request to the test, which answers (or not) with `reply`.
 * Also the small frame builders and `waitFor` the tests share.
 */
import net from 'node:net';
import type { ConnectionSettings } from '../../../../src/sink/wire/connection.ts';

/** One request as the fake broker parsed it. */
export interface Received {
  apiKey: number;
  version: number;
  correlationId: number;
  clientId: string;
  /** The request body, after the header. */
  body: Buffer;
  /** The socket it came on, where its answer goes. */
  socket: net.Socket;
}

export interface FakeBrokerOptions {
  /** Called for each request, in the order they arrive; answers with `reply`, or not at all. */
  onRequest: (req: Received) => void;
  /** Called for each socket the broker accepts, before any of its requests. */
  onConnection?: (socket: net.Socket) => void;
  /**
   * The [api key, min, max] ranges its ApiVersions answer names (every connection asks first);
   * default: a Kafka 4 broker's. ApiVersions requests are answered here, not handed to onRequest
   * nor kept in `received`.
   */
  apiVersions?: readonly (readonly [number, number, number])[];
}

/** What a Kafka 4.1 broker answers for the requests the client sends. */
export const KAFKA_4_VERSIONS: readonly (readonly [number, number, number])[] = [
  [0, 3, 12],
  [3, 0, 13],
  [17, 0, 1],
  [18, 0, 4],
  [22, 0, 5],
  [36, 0, 2],
];

/** An ApiVersions v0 answer: error code, then [api key, min, max] per request. */
export function apiVersionsAnswer(ranges: readonly (readonly [number, number, number])[], code = 0): Buffer {
  return Buffer.concat([
    int16(code),
    int32(ranges.length),
    ...ranges.map(([key, min, max]) => Buffer.concat([int16(key), int16(min), int16(max)])),
  ]);
}

export interface FakeBroker {
  port: number;
  /** Every request but ApiVersions, in the order it arrived. */
  received: Received[];
  /** ApiVersions requests answered. */
  apiVersionsRequests: () => number;
  /** Sockets accepted. */
  connections: () => number;
  /** Sockets the broker saw closed. */
  closedSockets: () => number;
  /** Sockets accepted and not yet closed. */
  openSockets: () => number;
  /** Destroys the open sockets and stops listening. */
  close: () => Promise<void>;
}

export async function startFakeBroker({
  onRequest,
  onConnection,
  apiVersions = KAFKA_4_VERSIONS,
}: FakeBrokerOptions): Promise<FakeBroker> {
  const received: Received[] = [];
  let versionRequests = 0;
  const sockets = new Set<net.Socket>();
  let connections = 0;
  let closed = 0;
  const server = net.createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      closed++;
      sockets.delete(socket);
    });
    onConnection?.(socket);
    let held = Buffer.alloc(0);
    socket.on('data', (data: Buffer) => {
      held = Buffer.concat([held, data]);
      // A request that destroyed the socket ends the reading: what follows it is never answered.
      while (!socket.destroyed && held.length >= 4 && held.length >= 4 + held.readInt32BE(0)) {
        const frame = held.subarray(4, 4 + held.readInt32BE(0));
        held = held.subarray(4 + frame.length);
        const clientIdLength = frame.readInt16BE(8);
        const req: Received = {
          apiKey: frame.readInt16BE(0),
          version: frame.readInt16BE(2),
          correlationId: frame.readInt32BE(4),
          clientId: frame.toString('utf8', 10, 10 + clientIdLength),
          body: Buffer.from(frame.subarray(10 + clientIdLength)),
          socket,
        };
        if (req.apiKey === 18) {
          versionRequests++;
          reply(req, apiVersionsAnswer(apiVersions));
          continue;
        }
        received.push(req);
        onRequest(req);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    received,
    apiVersionsRequests: () => versionRequests,
    connections: () => connections,
    closedSockets: () => closed,
    openSockets: () => sockets.size,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A response frame: size, correlation id, body. */
export function responseFrame(correlationId: number, body: Buffer): Buffer {
  return Buffer.concat([int32(4 + body.length), int32(correlationId), body]);
}

/** Answers `req` on its socket with `body` (the response after the correlation id). */
export function reply(req: Received, body: Buffer): void {
  req.socket.write(responseFrame(req.correlationId, body));
}

/** A port on 127.0.0.1 that was listening a moment ago and no longer is. */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Connection settings for a plain connection to a fake broker, with `extra` over them. */
export const settingsFor = (
  clientId: string,
  extra: Partial<ConnectionSettings> = {},
): ConnectionSettings => ({
  clientId,
  connectTimeoutMs: 2000,
  requestTimeoutMs: 2000,
  tls: undefined,
  sni: false,
  sasl: undefined,
  ...extra,
});

/** Waits for `cond`, at most `ms`. */
export async function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

// --- frame builders, big-endian as Kafka writes them ---------------------------------------------

export const int16 = (v: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(v);
  return b;
};

export const int32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v);
  return b;
};

/** A nullable string: int16 length (-1 for null), then its UTF-8 bytes. */
export const str = (s: string | null): Buffer =>
  s === null ? int16(-1) : Buffer.concat([int16(Buffer.byteLength(s)), Buffer.from(s)]);

/** Bytes: int32 length, then the bytes. */
export const bytes = (b: Buffer): Buffer => Buffer.concat([int32(b.length), b]);

/** A Metadata v8 answer naming one broker, node `nodeId` at 127.0.0.1:`port`, and `topics` with one partition led by it. */
export function metadataAnswer(nodeId: number, port: number, topics: string[]): Buffer {
  const parts = [
    int32(0),
    int32(1),
    int32(nodeId),
    str('127.0.0.1'),
    int32(port),
    str(null),
    str('cluster'),
    int32(nodeId),
  ];
  parts.push(int32(topics.length));
  for (const t of topics) {
    parts.push(int16(0), str(t), Buffer.from([0]), int32(1));
    parts.push(
      int16(0),
      int32(0),
      int32(nodeId),
      int32(0),
      int32(1),
      int32(nodeId),
      int32(1),
      int32(nodeId),
      int32(0),
    );
    parts.push(int32(0)); // topic_authorized_operations
  }
  parts.push(int32(0)); // cluster_authorized_operations
  return Buffer.concat(parts);
}
