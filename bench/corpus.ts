/**
 * Benchmark corpus: realistic mixed log lines (nginx access lines, JSON application logs, multiline
 * Java stack traces), generated from a seed so every run ships the same bytes.
 *
 *   node bench/corpus.ts --size 200MB [--files 1000] [--seed 1] [--out bench/out]
 *
 * The mix, by events: about 55% nginx access lines, 43% JSON application logs, 2% Java error
 * events (one header line and 6 to 30 lines of trace, `Caused by:` included). Every physical line
 * ends with \n and no line is empty, so with parser `none` and no multiline rule each line is one
 * Kafka record: the record count to verify is the corpus's line count.
 *
 * A corpus is written once per (size, files, seed) into its own directory with a manifest
 * (corpus.json); a later run with the same parameters reuses it.
 */
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';

/** Deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let s = seed | 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PATHS = [
  '/api/v1/orders',
  '/api/v1/orders/{id}',
  '/api/v1/cart',
  '/api/v1/users/{id}/profile',
  '/static/js/app.{hex}.js',
  '/static/css/main.{hex}.css',
  '/healthz',
  '/api/v2/search?q=shoes&page={n}',
  '/checkout/confirm',
  '/images/products/{id}.jpg',
];
const METHODS = ['GET', 'GET', 'GET', 'GET', 'POST', 'POST', 'PUT', 'DELETE'];
const STATUSES = [200, 200, 200, 200, 200, 200, 201, 204, 301, 304, 400, 404, 404, 500, 502];
const AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
  'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
  'curl/8.5.0',
  'kube-probe/1.31',
  'Go-http-client/1.1',
];
const LEVELS = ['info', 'info', 'info', 'info', 'debug', 'debug', 'warn', 'error'];
const LOGGERS = [
  'com.shop.orders.OrderService',
  'com.shop.cart.CartController',
  'com.shop.payments.PaymentClient',
  'com.shop.inventory.StockReservation',
  'org.hibernate.SQL',
  'io.netty.channel.DefaultChannelPipeline',
];
const MESSAGES = [
  'order created',
  'payment authorised',
  'stock reserved for order',
  'cache miss, loading from database',
  'request completed',
  'retrying call to payment provider',
  'session refreshed',
  'slow query detected',
];
const EXCEPTIONS = [
  'java.lang.IllegalStateException: order already confirmed',
  'java.net.SocketTimeoutException: Read timed out',
  'org.springframework.dao.DataIntegrityViolationException: could not execute statement',
  'java.lang.NullPointerException: Cannot invoke "com.shop.cart.Cart.items()" because "cart" is null',
];
const FRAMES = [
  'com.shop.orders.OrderService.confirm(OrderService.java:{n})',
  'com.shop.orders.OrderController.post(OrderController.java:{n})',
  'org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:{n})',
  'jakarta.servlet.http.HttpServlet.service(HttpServlet.java:{n})',
  'org.apache.catalina.core.ApplicationFilterChain.doFilter(ApplicationFilterChain.java:{n})',
  'org.apache.tomcat.util.net.NioEndpoint$SocketProcessor.doRun(NioEndpoint.java:{n})',
  'java.base/java.util.concurrent.ThreadPoolExecutor.runWorker(ThreadPoolExecutor.java:{n})',
  'java.base/java.lang.Thread.run(Thread.java:{n})',
  'com.zaxxer.hikari.pool.ProxyPreparedStatement.executeUpdate(ProxyPreparedStatement.java:{n})',
];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

export type LineKind = 'nginx' | 'json' | 'java';

/**
 * An endless, deterministic stream of log events. `next()` returns one event's text (one or more
 * lines, each ending with \n); `lines` counts the physical lines returned so far, `kinds` the events.
 */
export class LineSource {
  readonly #rand: () => number;
  #time = Date.UTC(2026, 10, 26, 13, 0, 0);
  lines = 0;
  readonly kinds: Record<LineKind, number> = { nginx: 0, json: 0, java: 0 };

  constructor(seed = 1) {
    this.#rand = prng(seed);
  }

  #int(n: number): number {
    return Math.floor(this.#rand() * n);
  }

  #pick<T>(xs: readonly T[]): T {
    return xs[this.#int(xs.length)] as T;
  }

  #hex(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += '0123456789abcdef'[this.#int(16)];
    return s;
  }

  #fill(template: string): string {
    return template
      .replace('{id}', String(1000 + this.#int(900_000)))
      .replace('{hex}', this.#hex(8))
      .replace('{n}', String(1 + this.#int(400)));
  }

  next(): string {
    this.#time += this.#int(4);
    const r = this.#rand();
    if (r < 0.55) {
      this.kinds.nginx++;
      this.lines++;
      return this.#nginx();
    }
    if (r < 0.98) {
      this.kinds.json++;
      this.lines++;
      return this.#json();
    }
    this.kinds.java++;
    return this.#java();
  }

  #nginx(): string {
    const d = new Date(this.#time);
    const day = String(d.getUTCDate()).padStart(2, '0');
    const hms = d.toISOString().slice(11, 19);
    const ip = `10.${this.#int(256)}.${this.#int(256)}.${1 + this.#int(254)}`;
    const req = `${this.#pick(METHODS)} ${this.#fill(this.#pick(PATHS))} HTTP/1.1`;
    const bytes = this.#int(60_000);
    const rt = (this.#rand() * 0.8).toFixed(3);
    return `${ip} - - [${day}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${hms} +0000] "${req}" ${this.#pick(STATUSES)} ${bytes} "-" "${this.#pick(AGENTS)}" rt=${rt} upstream=10.1.${this.#int(8)}.${this.#int(30)}:8080\n`;
  }

  #json(): string {
    const level = this.#pick(LEVELS);
    return `{"@timestamp":"${new Date(this.#time).toISOString()}","level":"${level}","logger":"${this.#pick(LOGGERS)}","thread":"http-nio-8080-exec-${1 + this.#int(200)}","message":"${this.#pick(MESSAGES)}","order_id":"ord-${this.#hex(12)}","user_id":${this.#int(5_000_000)},"duration_ms":${(this.#rand() * 250).toFixed(2)},"trace_id":"${this.#hex(32)}","span_id":"${this.#hex(16)}"}\n`;
  }

  #java(): string {
    const ts = new Date(this.#time).toISOString().replace('T', ' ').slice(0, 23);
    let out = `${ts} ERROR [http-nio-8080-exec-${1 + this.#int(200)}] ${this.#pick(LOGGERS)} - request failed: ${this.#pick(MESSAGES)}\n`;
    out += `${this.#pick(EXCEPTIONS)}\n`;
    let n = 2;
    const frames = 4 + this.#int(20);
    for (let i = 0; i < frames; i++, n++) out += `\tat ${this.#fill(this.#pick(FRAMES))}\n`;
    if (this.#rand() < 0.5) {
      out += `Caused by: ${this.#pick(EXCEPTIONS)}\n`;
      n++;
      const more = 2 + this.#int(5);
      for (let i = 0; i < more; i++, n++) out += `\tat ${this.#fill(this.#pick(FRAMES))}\n`;
      out += `\t... ${10 + this.#int(40)} more\n`;
      n++;
    }
    this.lines += n;
    return out;
  }
}

export interface CorpusOptions {
  /** Parent directory; the corpus goes into `<out>/corpus-<bytes>-<files>f-s<seed>/`. */
  out: string;
  /** Total size in bytes (the last event may pass it by one event). */
  bytes: number;
  /** Number of files the bytes are spread over (one after the other, each about bytes/files). */
  files?: number;
  seed?: number;
  /** Every line as a container runtime writes it (`<time> stdout F <line>`), for parser `cri`. */
  cri?: boolean;
  onProgress?: (writtenBytes: number, totalBytes: number) => void;
}

/** `text`'s lines in CRI form, stamped from `n` (one millisecond per event). */
function criLines(text: string, n: number): string {
  const ms = n % 1000;
  const s = Math.floor(n / 1000) % 60;
  const m = Math.floor(n / 60_000) % 60;
  const stamp = `2026-11-26T13:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}.${String(ms).padStart(3, '0')}123456Z stdout F `;
  let out = '';
  for (const line of text.split('\n')) if (line !== '') out += `${stamp}${line}\n`;
  return out;
}

export interface Corpus {
  dir: string;
  files: string[];
  lines: number;
  bytes: number;
  seed: number;
  kinds: Record<LineKind, number>;
}

/** Parses sizes such as 100MB, 2GB, 512MiB, 1.5G or a plain byte count (MB = 10^6, MiB = 2^20). */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(k|kb|kib|m|mb|mib|g|gb|gib)?\s*$/i.exec(text);
  if (!m) throw new Error(`bad size "${text}": use e.g. 100MB, 2GB, 512MiB`);
  const n = Number(m[1]);
  const unit = (m[2] ?? '').toLowerCase();
  const mult: Record<string, number> = {
    '': 1,
    k: 1e3,
    kb: 1e3,
    kib: 1024,
    m: 1e6,
    mb: 1e6,
    mib: 1024 ** 2,
    g: 1e9,
    gb: 1e9,
    gib: 1024 ** 3,
  };
  return Math.round(n * (mult[unit] ?? 1));
}

const FLUSH_BYTES = 4 << 20;

/** Writes (or reuses) the corpus described by `opts`. */
export function generateCorpus(opts: CorpusOptions): Corpus {
  const files = opts.files ?? 1;
  const seed = opts.seed ?? 1;
  const dir = path.join(opts.out, `corpus-${opts.bytes}-${files}f-s${seed}${opts.cri ? '-cri' : ''}`);
  const manifest = path.join(dir, 'corpus.json');
  if (existsSync(manifest)) {
    const c = JSON.parse(readFileSync(manifest, 'utf8')) as Corpus;
    if (c.files.every((f) => existsSync(f))) return c;
  }
  mkdirSync(dir, { recursive: true });
  const src = new LineSource(seed);
  const perFile = Math.ceil(opts.bytes / files);
  const names: string[] = [];
  let total = 0;
  let lastReport = 0;
  for (let i = 0; i < files; i++) {
    const name = path.join(dir, files === 1 ? 'app.log' : `app-${String(i).padStart(4, '0')}.log`);
    names.push(name);
    const fd = openSync(name, 'w');
    try {
      let inFile = 0;
      const target = Math.min(perFile, opts.bytes - total);
      let pending = '';
      while (inFile < target) {
        const ev = opts.cri ? criLines(src.next(), src.lines) : src.next();
        pending += ev;
        // Every character is ASCII, so string length is byte length.
        inFile += ev.length;
        if (pending.length >= FLUSH_BYTES) {
          writeSync(fd, pending);
          pending = '';
          if (opts.onProgress && total + inFile - lastReport >= 64e6) {
            lastReport = total + inFile;
            opts.onProgress(lastReport, opts.bytes);
          }
        }
      }
      if (pending !== '') writeSync(fd, pending);
      total += inFile;
    } finally {
      closeSync(fd);
    }
  }
  const corpus: Corpus = { dir, files: names, lines: src.lines, bytes: total, seed, kinds: { ...src.kinds } };
  writeFileSync(`${manifest}.tmp`, JSON.stringify(corpus, null, 2));
  renameSync(`${manifest}.tmp`, manifest);
  return corpus;
}

if (import.meta.main) {
  const { parseArgs } = await import('node:util');
  const { values } = parseArgs({
    options: {
      size: { type: 'string', default: '100MB' },
      files: { type: 'string', default: '1' },
      seed: { type: 'string', default: '1' },
      out: { type: 'string', default: path.join(import.meta.dirname, 'out') },
    },
  });
  const c = generateCorpus({
    out: values.out,
    bytes: parseSize(values.size),
    files: Number(values.files),
    seed: Number(values.seed),
    onProgress: (w, t) => process.stderr.write(`corpus: ${((100 * w) / t).toFixed(0)}%\n`),
  });
  console.log(
    JSON.stringify({ dir: c.dir, files: c.files.length, lines: c.lines, bytes: c.bytes, kinds: c.kinds }),
  );
}
