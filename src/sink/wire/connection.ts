import net from 'node:net';
import tls from 'node:tls';
import { API, checkApiVersions, RequestWriter, ResponseReader, WireError } from './protocol.ts';
import { type SaslCredentials, saslExchange } from './sasl.ts';

/**
 * One TCP (or TLS) connection to one broker: frames out, frames in, answers matched to requests by
 * correlation id. Kafka answers a connection's requests in the order it received them, so the
 * pending requests are a FIFO and a correlation id out of order is a protocol error.
 *
 * Failures are WireErrors named as kafkajs names them (classify.ts reads those names):
 * - the socket's error (ECONNREFUSED, a TLS alert, ...) or a close: KafkaJSConnectionError, every
 *   pending request fails with it and the connection is done (the client opens a new one);
 * - a request unanswered for request_timeout_ms: KafkaJSRequestTimeoutError, and the connection is
 *   closed, because a late answer would be taken for the next request's;
 * - SASL: the broker's error code (SASL_AUTHENTICATION_FAILED, UNSUPPORTED_SASL_MECHANISM).
 */

export interface ConnectionSettings {
  clientId: string;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  /** Node TLS options (ca, cert, key, servername, rejectUnauthorized); undefined: plaintext. */
  tls: tls.ConnectionOptions | undefined;
  /** Sends the broker's host name as SNI (unless it is an IP address or `tls.servername` is set). */
  sni: boolean;
  sasl: SaslCredentials | undefined;
}

interface WaitingFrame {
  frame: Buffer | Buffer[];
  expectAnswer: boolean;
  resolve: (r: ResponseReader) => void;
  reject: (e: Error) => void;
}

interface Pending {
  correlationId: number;
  resolve: (r: ResponseReader) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class BrokerConnection {
  readonly address: string;
  readonly #settings: ConnectionSettings;
  readonly #socket: net.Socket;
  readonly #pending: Pending[] = [];
  #nextCorrelationId = 1;
  #failure: Error | undefined;
  /** When the SASL session should be renewed (85-95% of the lifetime the broker gave); never: Infinity. */
  #renewAt = Number.POSITIVE_INFINITY;
  /** Frames that came while the SASL session is being renewed, in call order; undefined: none is. */
  #waiting: WaitingFrame[] | undefined;
  /** Called when no request is pending any more. */
  #onIdle: (() => void) | undefined;
  /** Received bytes not yet a whole frame. */
  #held: Buffer | undefined;

  private constructor(host: string, port: number, socket: net.Socket, settings: ConnectionSettings) {
    this.address = `${host}:${port}`;
    this.#socket = socket;
    this.#settings = settings;
    socket.setNoDelay(true);
    socket.on('data', (data: Buffer) => this.#onData(data));
    socket.on('error', (err) => this.#fail(connectionError(this.address, err.message)));
    socket.on('close', () => this.#fail(connectionError(this.address, 'Connection closed by the broker')));
  }

  /** Connects (and authenticates); rejects with a WireError. */
  static open(host: string, port: number, settings: ConnectionSettings): Promise<BrokerConnection> {
    return new Promise<BrokerConnection>((resolve, reject) => {
      let socket: net.Socket;
      const event = settings.tls === undefined ? 'connect' : 'secureConnect';
      if (settings.tls === undefined) socket = net.connect({ host, port });
      else {
        const options: tls.ConnectionOptions = { ...settings.tls, host, port };
        if (options.servername === undefined && settings.sni && net.isIP(host) === 0)
          options.servername = host;
        socket = tls.connect(options);
      }
      const timer = setTimeout(() => {
        socket.destroy();
        reject(connectionError(`${host}:${port}`, 'Connection timeout'));
      }, settings.connectTimeoutMs);
      const onError = (err: Error): void => {
        clearTimeout(timer);
        socket.destroy();
        reject(connectionError(`${host}:${port}`, err.message));
      };
      socket.once('error', onError);
      socket.once(event, () => {
        clearTimeout(timer);
        socket.off('error', onError);
        const connection = new BrokerConnection(host, port, socket, settings);
        // ApiVersions may precede SASL (KIP-35): a broker too old for our versions is named first.
        const sasl = settings.sasl;
        connection
          .request(API.apiVersions, 0, () => undefined)
          .then((r) => checkApiVersions(r, sasl !== undefined, connection.address))
          .then(async () => {
            if (sasl !== undefined) connection.#sessionStarted(await saslExchange(connection, sasl));
          })
          .then(
            () => resolve(connection),
            (err: unknown) => {
              connection.close();
              reject(err);
            },
          );
      });
    });
  }

  get closed(): boolean {
    return this.#failure !== undefined;
  }

  /** A writer for a request on this connection, with the next correlation id. */
  writer(apiKey: number, version: number, size?: number): RequestWriter {
    const correlationId = this.#nextCorrelationId;
    this.#nextCorrelationId = (correlationId + 1) & 0x7fffffff;
    return new RequestWriter(apiKey, version, correlationId, this.#settings.clientId, size);
  }

  /**
   * Puts a frame from `writer()` on the wire and resolves with the answer's body. `expectAnswer`
   * false (acks=0): resolves once written. Frames go out in call order; when the SASL session is
   * due for renewal, they wait for it (see #renew).
   */
  send(frame: Buffer | Buffer[], expectAnswer = true): Promise<ResponseReader> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (this.#waiting === undefined && Date.now() >= this.#renewAt) {
      this.#waiting = [];
      void this.#renew();
    }
    const waiting = this.#waiting;
    if (waiting === undefined) return this.#sendNow(frame, expectAnswer);
    return new Promise((resolve, reject) => waiting.push({ frame, expectAnswer, resolve, reject }));
  }

  #sendNow(frame: Buffer | Buffer[], expectAnswer: boolean): Promise<ResponseReader> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    const first = Array.isArray(frame) ? (frame[0] as Buffer) : frame;
    // The id `writer()` wrote: size (4), api key (2), version (2), then the correlation id.
    const correlationId = first.readInt32BE(8);
    if (!expectAnswer) {
      return new Promise((resolve, reject) =>
        this.#write(frame, (err) =>
          err ? reject(this.#failure ?? err) : resolve(new ResponseReader(first, first.length)),
        ),
      );
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#fail(new WireError('KafkaJSRequestTimeoutError', 'Request timed out'));
      }, this.#settings.requestTimeoutMs);
      this.#pending.push({ correlationId, resolve, reject, timer });
      this.#write(frame);
    });
  }

  /** A frame or its pieces, in one go (corked: one writev for the pieces). */
  #write(frame: Buffer | Buffer[], done?: (err: Error | null | undefined) => void): void {
    if (!Array.isArray(frame)) {
      this.#socket.write(frame, done);
      return;
    }
    this.#socket.cork();
    const last = frame.length - 1;
    for (let i = 0; i < last; i++) this.#socket.write(frame[i] as Buffer);
    this.#socket.write(frame[last] as Buffer, done);
    this.#socket.uncork();
  }

  /** One request with its writer: `write` adds the body. */
  request(apiKey: number, version: number, write: (w: RequestWriter) => void): Promise<ResponseReader> {
    const w = this.writer(apiKey, version);
    write(w);
    return this.send(w.finish());
  }

  /** Schedules the renewal of a SASL session of `lifetimeMs` (0: the broker sets no limit). */
  #sessionStarted(lifetimeMs: number): void {
    // Java's client renews at a random 85-95% of the lifetime, so that connections opened together
    // do not all renew at once.
    this.#renewAt =
      lifetimeMs > 0 ? Date.now() + lifetimeMs * (0.85 + 0.1 * Math.random()) : Number.POSITIVE_INFINITY;
  }

  /**
   * Re-authenticates on this connection (KIP-368) before the broker's session limit
   * (connections.max.reauth.ms) closes it: once the requests in flight are answered, SaslHandshake
   * and SaslAuthenticate again, then the frames that waited go out in their order. A refusal fails
   * the connection with the broker's error, like a failed first authentication.
   */
  async #renew(): Promise<void> {
    const sasl = this.#settings.sasl as SaslCredentials;
    try {
      if (this.#pending.length > 0) await new Promise<void>((resolve) => (this.#onIdle = resolve));
      const direct = {
        request: (apiKey: number, version: number, write: (w: RequestWriter) => void) => {
          const w = this.writer(apiKey, version);
          write(w);
          return this.#sendNow(w.finish(), true);
        },
      };
      this.#sessionStarted(await saslExchange(direct, sasl));
    } catch (err) {
      this.#fail(err as Error);
    }
    // In one go, in their order: a frame sent meanwhile cannot slip in between.
    const waiting = this.#waiting ?? [];
    this.#waiting = undefined;
    for (const w of waiting) this.#sendNow(w.frame, w.expectAnswer).then(w.resolve, w.reject);
  }

  close(): void {
    this.#fail(connectionError(this.address, 'Connection closed'));
  }

  #onData(data: Buffer): void {
    let buf = data;
    if (this.#held !== undefined) {
      buf = Buffer.concat([this.#held, data]);
      this.#held = undefined;
    }
    let pos = 0;
    while (buf.length - pos >= 4) {
      const size = buf.readInt32BE(pos);
      if (buf.length - pos - 4 < size) break;
      this.#onFrame(buf.subarray(pos + 4, pos + 4 + size));
      if (this.#failure !== undefined) return;
      pos += 4 + size;
    }
    if (pos < buf.length) this.#held = Buffer.from(buf.subarray(pos));
  }

  #onFrame(frame: Buffer): void {
    const next = this.#pending.shift();
    const correlationId = frame.length >= 4 ? frame.readInt32BE(0) : -1;
    if (next === undefined || next.correlationId !== correlationId) {
      this.#fail(
        connectionError(
          this.address,
          `unexpected answer (correlation id ${correlationId}, expected ${next?.correlationId ?? 'none'})`,
        ),
      );
      if (next !== undefined) {
        clearTimeout(next.timer);
        next.reject(this.#failure as Error);
      }
      return;
    }
    clearTimeout(next.timer);
    next.resolve(new ResponseReader(frame, 4));
    if (this.#pending.length === 0 && this.#onIdle !== undefined) {
      const idle = this.#onIdle;
      this.#onIdle = undefined;
      idle();
    }
  }

  #fail(err: Error): void {
    if (this.#failure !== undefined) return;
    this.#failure = err;
    this.#socket.destroy();
    // A renewal waiting for the requests in flight goes on to find the connection failed.
    this.#onIdle?.();
    this.#onIdle = undefined;
    for (const p of this.#pending.splice(0)) {
      clearTimeout(p.timer);
      p.reject(err);
    }
  }
}

/**
 * The socket's own error is not attached as `cause`: classify.ts reads the innermost error of a
 * chain (kafkajs wraps its causes), and a plain Error there would hide this one's name.
 */
function connectionError(address: string, detail: string): WireError {
  return new WireError('KafkaJSConnectionError', `${address}: ${detail}`);
}
