import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { MetricsListenError } from '../../../src/model/errors.ts';
import { ObserveServer, parseListen, type Readiness } from '../../../src/observe/http-server.ts';
import { silentLogger } from '../../../src/observe/logger.ts';
import { Metrics, type StatusDocument } from '../../../src/observe/metrics.ts';
import { parsePrometheusText, sampleValue } from './prom-text.ts';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function get(port: number, path: string, method = 'GET', agent?: Agent): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`request ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

describe('ObserveServer', () => {
  let readiness: Readiness | Error = { ready: true };
  const stats = { lines: 0 };
  const metrics = new Metrics({
    processMetrics: false,
    snapshot: () => ({
      sources: { app: { lines_read: stats.lines, bytes_read: stats.lines * 10 } },
      topics: { logs: { records_sent: stats.lines, records_failed: 0 } },
      broker: 'connected',
    }),
  });
  const server = new ObserveServer({
    listen: '127.0.0.1:0',
    metrics,
    log: silentLogger(),
    ready: () => {
      if (readiness instanceof Error) throw readiness;
      return readiness;
    },
  });
  let port = 0;

  before(async () => {
    ({ port } = await server.start());
  });
  after(() => server.close());

  it('serves /metrics in the Prometheus text format, read at scrape time', async () => {
    stats.lines = 42;
    const res = await get(port, '/metrics');
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    const f = parsePrometheusText(res.body);
    assert.equal(f.get('logferry_source_lines_read_total')?.type, 'counter');
    assert.equal(sampleValue(f, 'logferry_source_lines_read_total', { source: 'app' }), 42);
    assert.equal(sampleValue(f, 'logferry_sink_records_sent_total', { topic: 'logs' }), 42);
    assert.equal(sampleValue(f, 'logferry_broker_state', { state: 'connected' }), 1);
    stats.lines = 50;
    const again = parsePrometheusText((await get(port, '/metrics?x=1')).body);
    assert.equal(sampleValue(again, 'logferry_source_bytes_read_total', { source: 'app' }), 500);
  });

  it('answers /healthz while the event loop runs', async () => {
    const res = await get(port, '/healthz');
    assert.equal(res.status, 200);
    assert.equal(res.body, 'ok\n');
  });

  it('answers /readyz 200 when ready and 503 with a JSON reason when not', async () => {
    readiness = { ready: true };
    let res = await get(port, '/readyz');
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.body), { ready: true });

    readiness = { ready: false, reason: 'broker disconnected and spool full', spool_bytes: 10 };
    res = await get(port, '/readyz');
    assert.equal(res.status, 503);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    assert.deepEqual(JSON.parse(res.body), readiness);

    readiness = new Error('boom');
    res = await get(port, '/readyz');
    assert.equal(res.status, 503);
    assert.deepEqual(JSON.parse(res.body), { ready: false, reason: 'readiness check failed' });
    readiness = { ready: true };
  });

  it('serves /status as JSON (the metrics status document by default)', async () => {
    stats.lines = 7;
    const res = await get(port, '/status');
    assert.equal(res.status, 200);
    const doc = JSON.parse(res.body) as StatusDocument;
    assert.deepEqual(doc.sources, [{ name: 'app', lines_read: 7, bytes_read: 70 }]);
    assert.equal(doc.broker, 'connected');
    assert.equal(typeof doc.time_ms, 'number');
  });

  it('answers 404 for unknown paths, 405 for other methods, and HEAD without a body', async () => {
    assert.equal((await get(port, '/nope')).status, 404);
    const post = await get(port, '/metrics', 'POST');
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET, HEAD');
    const head = await get(port, '/healthz', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
  });
});

describe('ObserveServer lifecycle', () => {
  it('uses a custom status callback and answers 500 when /metrics fails', async () => {
    const metrics = new Metrics({
      processMetrics: false,
      snapshot: () => {
        throw new Error('snapshot broke');
      },
    });
    const server = new ObserveServer({
      listen: '127.0.0.1:0',
      metrics,
      status: () => ({ custom: true }),
      log: silentLogger(),
    });
    const { port } = await server.start();
    try {
      assert.deepEqual(JSON.parse((await get(port, '/status')).body), { custom: true });
      assert.equal((await get(port, '/metrics')).status, 500);
      assert.equal((await get(port, '/healthz')).status, 200);
    } finally {
      await server.close();
    }
  });

  it('reports an address in use as MetricsListenError', async () => {
    const metrics = new Metrics({ processMetrics: false });
    const first = new ObserveServer({ listen: '127.0.0.1:0', metrics });
    const { port } = await first.start();
    try {
      const second = new ObserveServer({ listen: `127.0.0.1:${port}`, metrics });
      await assert.rejects(second.start(), (err: unknown) => {
        assert.ok(err instanceof MetricsListenError);
        assert.equal(err.code, 'LOGFERRY_ERR_METRICS_LISTEN');
        assert.match(err.message, /already in use/);
        return true;
      });
      await second.close();
    } finally {
      await first.close();
    }
  });

  it('closes promptly with keep-alive connections open, and twice', async () => {
    const metrics = new Metrics({ processMetrics: false });
    const server = new ObserveServer({ listen: '127.0.0.1:0', metrics });
    const { port } = await server.start();
    const agent = new Agent({ keepAlive: true });
    try {
      assert.equal((await get(port, '/healthz', 'GET', agent)).status, 200);
      const t0 = performance.now();
      await server.close();
      assert.ok(performance.now() - t0 < 2000, 'close did not wait for the idle keep-alive socket');
      await server.close();
      await assert.rejects(get(port, '/healthz'), /ECONNREFUSED/);
    } finally {
      agent.destroy();
    }
  });

  it('refuses to start twice', async () => {
    const server = new ObserveServer({
      listen: '127.0.0.1:0',
      metrics: new Metrics({ processMetrics: false }),
    });
    await server.start();
    try {
      await assert.rejects(server.start(), /already started/);
    } finally {
      await server.close();
    }
  });
});

describe('parseListen', () => {
  it('splits host:port, [ipv6]:port and :port', () => {
    assert.deepEqual(parseListen('127.0.0.1:9464'), { host: '127.0.0.1', port: 9464 });
    assert.deepEqual(parseListen('[::1]:9464'), { host: '::1', port: 9464 });
    assert.deepEqual(parseListen(':9464'), { host: '', port: 9464 });
    assert.deepEqual(parseListen('localhost:0'), { host: 'localhost', port: 0 });
  });

  it('rejects malformed addresses with a MetricsListenError naming the form', () => {
    for (const bad of ['9464', '127.0.0.1', '127.0.0.1:99999', 'host:port', '::1:9464', '']) {
      assert.throws(
        () => parseListen(bad),
        (err: unknown) => {
          assert.ok(err instanceof MetricsListenError, bad);
          assert.match(err.message, /host:port/);
          return true;
        },
      );
    }
  });
});
