/**
 * The agent's small HTTP endpoint (node:http, no framework), on `metrics.listen`:
 *
 *   GET /metrics  Prometheus text format, from Metrics.render()
 *   GET /healthz  200 while the event loop answers (liveness)
 *   GET /readyz   200 {"ready":true} or 503 {"ready":false,"reason":...} from the readiness callback
 *   GET /status   JSON from the status callback (default Metrics.status()), read by `logferry top`
 *
 * close() ends keep-alive connections too, so a stopped server never holds the process open.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MetricsListenError } from '../model/errors.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';

/** What /readyz reports; extra fields are passed through into the JSON body. */
export interface Readiness {
  ready: boolean;
  /** Why the agent is not ready (e.g. "config not loaded", "broker disconnected and spool full"). */
  reason?: string;
  [field: string]: unknown;
}

export interface ObserveServerOptions {
  /** `host:port`, `[ipv6]:port` or `:port` (every interface); port 0 picks a free port (tests). */
  listen: string;
  metrics: Metrics;
  /** Asked on every /readyz; without it the agent is ready as soon as the server listens. */
  ready?: () => Readiness | Promise<Readiness>;
  /** Asked on every /status; defaults to `metrics.status()`. Must return something JSON can encode. */
  status?: () => unknown;
  log?: Logger;
}

export interface ListenAddress {
  /** Empty when the address names every interface. */
  host: string;
  port: number;
}

const LISTEN_RE = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9_.-]*)):([0-9]{1,5})$/;
const REQUEST_TIMEOUT_MS = 10_000;

/** Splits `metrics.listen` into host and port; throws MetricsListenError when it is malformed. */
export function parseListen(listen: string): ListenAddress {
  const m = LISTEN_RE.exec(listen);
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port > 65_535) {
    throw new MetricsListenError(
      `metrics.listen "${listen}" is not an address: write host:port, [ipv6]:port or :port, e.g. 127.0.0.1:9464`,
    );
  }
  return { host: m[1] ?? m[2] ?? '', port };
}

export class ObserveServer {
  readonly #options: ObserveServerOptions;
  #server: Server | undefined;
  #address: ListenAddress | undefined;

  constructor(options: ObserveServerOptions) {
    this.#options = options;
  }

  /** The address actually bound (with the real port when 0 was asked), once started. */
  get address(): ListenAddress | undefined {
    return this.#address;
  }

  /** Binds `listen`; rejects with MetricsListenError when the address cannot be used. */
  async start(): Promise<ListenAddress> {
    if (this.#server) throw new Error('ObserveServer already started');
    const wanted = parseListen(this.#options.listen);
    const server = createServer((req, res) => {
      this.#handle(req, res).catch((err: unknown) => this.#fail(res, err));
    });
    server.requestTimeout = REQUEST_TIMEOUT_MS;
    server.headersTimeout = REQUEST_TIMEOUT_MS;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        server.off('listening', onListening);
        reject(listenError(this.#options.listen, err));
      };
      const onListening = () => {
        server.off('error', onError);
        resolve();
      };
      server.once('error', onError);
      server.once('listening', onListening);
      server.listen({ port: wanted.port, host: wanted.host === '' ? undefined : wanted.host });
    });
    server.on('error', (err) => this.#options.log?.error({ err }, 'metrics endpoint error'));
    this.#server = server;
    const bound = server.address() as AddressInfo;
    this.#address = { host: wanted.host, port: bound.port };
    this.#options.log?.info({ listen: this.#options.listen, port: bound.port }, 'metrics endpoint listening');
    return this.#address;
  }

  /** Stops listening and ends open connections; safe to call twice or before start. */
  async close(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
      return;
    }
    switch (path) {
      case '/metrics': {
        const { metrics } = this.#options;
        send(res, 200, metrics.contentType, await metrics.render());
        return;
      }
      case '/healthz':
        send(res, 200, 'text/plain; charset=utf-8', 'ok\n');
        return;
      case '/readyz': {
        let state: Readiness;
        try {
          state = this.#options.ready ? await this.#options.ready() : { ready: true };
        } catch (err) {
          this.#options.log?.warn({ err }, 'readiness check failed');
          state = { ready: false, reason: 'readiness check failed' };
        }
        sendJson(res, state.ready ? 200 : 503, state);
        return;
      }
      case '/status': {
        const { status, metrics } = this.#options;
        sendJson(res, 200, status ? await status() : metrics.status());
        return;
      }
      case '/':
        send(res, 200, 'text/plain; charset=utf-8', 'logferry: /metrics /healthz /readyz /status\n');
        return;
      default:
        send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
    }
  }

  #fail(res: ServerResponse, err: unknown): void {
    this.#options.log?.error({ err }, 'metrics endpoint request failed');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
  }
}

function send(res: ServerResponse, code: number, contentType: string, body: string): void {
  res.writeHead(code, {
    'Content-Type': contentType,
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
  });
  res.end(body);
}

function sendJson(res: ServerResponse, code: number, value: unknown): void {
  send(res, code, 'application/json; charset=utf-8', `${JSON.stringify(value)}\n`);
}

function listenError(listen: string, err: NodeJS.ErrnoException): MetricsListenError {
  switch (err.code) {
    case 'EADDRINUSE':
      return new MetricsListenError(
        `metrics.listen ${listen} is already in use: choose another port in metrics.listen, or stop the process holding it`,
      );
    case 'EACCES':
      return new MetricsListenError(
        `metrics.listen ${listen} is not permitted: use a port above 1023, or run with the capability to bind it`,
      );
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
      return new MetricsListenError(
        `metrics.listen ${listen} names no address of this host: use 127.0.0.1, 0.0.0.0 or an address of a local interface`,
      );
    default:
      return new MetricsListenError(`metrics.listen ${listen} cannot be bound (${err.code ?? err.message})`);
  }
}
