// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these tests are about the ${ENV} syntax
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EnrichSettings, EnrichSource } from '../../../src/enrich/enrich-config.ts';
import { createEnricher, sanitizeTopic } from '../../../src/enrich/enricher.ts';
import { expandEnv } from '../../../src/enrich/env-expand.ts';
import { kubernetesFromPath } from '../../../src/enrich/path-metadata.ts';
import { EnrichConfigError } from '../../../src/model/errors.ts';
import type { ParsedEvent } from '../../../src/model/record.ts';
import { createDecoder, type ParseSource } from '../../../src/parse/decoder.ts';
import { makeChunk } from '../parse/chunk-helper.ts';

const UID = '9f3a8c2e-1b2c-4d5e-8f90-0123456789ab';
const CID = 'a'.repeat(64);

describe('Kubernetes path metadata table', () => {
  const table: [string, ReturnType<typeof kubernetesFromPath>][] = [
    [
      `/var/log/pods/shop_checkout-7d9f8-abcde_${UID}/checkout/0.log`,
      {
        namespace: 'shop',
        podName: 'checkout-7d9f8-abcde',
        podUid: UID,
        containerName: 'checkout',
        containerId: undefined,
      },
    ],
    [
      `/var/log/pods/kube-system_coredns-5d78c9869d-x2x_${UID}/coredns/3.log.20240102-030405`,
      {
        namespace: 'kube-system',
        podName: 'coredns-5d78c9869d-x2x',
        podUid: UID,
        containerName: 'coredns',
        containerId: undefined,
      },
    ],
    [
      `/var/log/containers/checkout-7d9f8-abcde_shop_istio-proxy-${CID}.log`,
      {
        namespace: 'shop',
        podName: 'checkout-7d9f8-abcde',
        podUid: undefined,
        containerName: 'istio-proxy',
        containerId: CID,
      },
    ],
    [
      `/host/var/log/containers/web-0_default_nginx-${CID}.log`,
      { namespace: 'default', podName: 'web-0', podUid: undefined, containerName: 'nginx', containerId: CID },
    ],
    ['/var/log/app/app.log', undefined],
    ['/var/log/containers/notk8s.log', undefined],
    [`/var/log/pods/only-two_parts/c/0.log`, undefined],
  ];
  for (const [path, want] of table) {
    it(path, () => assert.deepEqual(kubernetesFromPath(path), want));
  }

  it('puts kubernetes.* and container.id in the record, service.name from the container', () => {
    const enr = createEnricher({ name: 'k8s' }, { default_topic: 'logs' }, {});
    const v = JSON.parse(
      enr.forFile(`/var/log/containers/web-0_default_nginx-${CID}.log`, 'f').toRecord(events(['x'])[0]).value,
    );
    assert.deepEqual(v.kubernetes, {
      namespace: 'default',
      pod: { name: 'web-0' },
      container: { name: 'nginx' },
    });
    assert.deepEqual(v.container, { id: CID });
    assert.equal(v.service.name, 'nginx');
  });

  it('kubernetes: false turns it off', () => {
    const enr = createEnricher({ name: 'k8s', kubernetes: false }, { default_topic: 'logs' }, {});
    const v = JSON.parse(
      enr.forFile(`/var/log/containers/web-0_default_nginx-${CID}.log`, 'f').toRecord(events(['x'])[0]).value,
    );
    assert.equal(v.kubernetes, undefined);
    assert.equal(v.service.name, 'k8s');
  });
});

function events(lines: string[], source: Omit<ParseSource, 'name'> = {}): ParsedEvent[] {
  const out: ParsedEvent[] = [];
  createDecoder({ name: 't', ...source }).decode(makeChunk(lines), out);
  return out;
}

function record(
  source: EnrichSource,
  settings: Partial<EnrichSettings>,
  path: string,
  ev: ParsedEvent,
  env = {},
) {
  const enr = createEnricher(source, { default_topic: 'logs', ...settings }, env);
  const r = enr.forFile(path, 'fid').toRecord(ev);
  return { ...r, v: JSON.parse(r.value), stats: enr.stats, host: enr.hostName };
}

describe('service.name', () => {
  it('from a path pattern capture', () => {
    const r = record(
      { name: 's', service_from_path: '/var/log/(?<service>[^/]+)/' },
      {},
      '/var/log/billing/x.log',
      events(['x'])[0],
    );
    assert.equal(r.v.service.name, 'billing');
  });
  it('from a parsed field, falling back to the per-file service when absent', () => {
    const [a, b] = events(['{"svc":{"name":"cart"}}', '{"other":1}'], { parser: 'json' });
    const src: EnrichSource = {
      name: 's',
      service_field: 'svc.name',
      service_from_path: '/log/(?<service>\\w+)/',
    };
    assert.equal(record(src, {}, '/log/api/x.log', a).v.service.name, 'cart');
    assert.equal(record(src, {}, '/log/api/x.log', b).v.service.name, 'api');
  });
  it('config service wins over everything', () => {
    const [a] = events(['{"svc":"cart"}'], { parser: 'json' });
    assert.equal(
      record({ name: 's', service: 'fixed', service_field: 'svc' }, {}, '/p', a).v.service.name,
      'fixed',
    );
  });
  it('rejects an invalid path pattern at startup', () => {
    assert.throws(
      () => createEnricher({ name: 's', service_from_path: '(' }, { default_topic: 'l' }),
      EnrichConfigError,
    );
  });
});

describe('parsed fields never overwrite agent metadata', () => {
  it('a line with host, service, log, event and schema_version keys stays under fields', () => {
    const [ev] = events(
      [
        '{"host":"evil","service":{"name":"x"},"log":{"offset":1},"event":{"id":"z"},"schema_version":9,"message":"m"}',
      ],
      {
        parser: 'json',
      },
    );
    const r = record({ name: 's', service: 'real' }, { host_name: 'h1' }, '/p', ev);
    assert.deepEqual(r.v.host, { name: 'h1' });
    assert.deepEqual(r.v.service, { name: 'real' });
    assert.equal(r.v.log.offset, 0);
    assert.equal(r.v.schema_version, 1);
    assert.match(r.v.event.id, /^[0-9a-f]{16}-0$/);
    assert.equal(r.v.fields.host, 'evil');
    assert.equal(r.v.message, 'm');
  });
});

describe('static fields', () => {
  it('global and per-source, source wins, ENV expanded, under labels', () => {
    const r = record(
      { name: 's', fields: { team: 'pay', env: '${DEPLOY_ENV}', region: '${REGION:-eu-1}' } },
      { fields: { team: 'core', dc: 'x', n: 3 } },
      '/p',
      events(['x'])[0],
      { DEPLOY_ENV: 'prod' },
    );
    assert.deepEqual(r.v.labels, { team: 'pay', dc: 'x', n: 3, env: 'prod', region: 'eu-1' });
  });
  it('expandEnv leaves text alone and expands unset variables to empty', () => {
    assert.equal(expandEnv('a-${X}-${Y:-d}-$Z', { X: '1' }), 'a-1-d-$Z');
  });
});

describe('keys', () => {
  const k8sPath = `/var/log/pods/shop_web-0_${UID}/web/0.log`;
  const [ev] = events(['{"user":{"id":42},"level":"error","tenant":"acme"}'], { parser: 'json' });
  const [bare] = events(['{"x":1}'], { parser: 'json' });
  const cases: [string, string, ParsedEvent, string | null | 'HOST', number][] = [
    ['host', '/p', ev, 'HOST', 0],
    ['service', '/p', ev, 'svc', 0],
    ['none', '/p', ev, null, 0],
    ['kubernetes.namespace', k8sPath, ev, 'shop', 0],
    ['kubernetes.namespace', '/p', ev, 'HOST', 1], // missing -> host name
    ['{service.name}/{kubernetes.namespace}', k8sPath, ev, 'svc/shop', 0],
    ['{service.name}/{kubernetes.namespace}', '/p', ev, 'HOST', 1],
    ['fields.user.id', '/p', ev, '42', 0],
    ['tenant', '/p', ev, 'acme', 0],
    ['tenant', '/p', bare, 'HOST', 1],
    ['{tenant}-{log.level}', '/p', ev, 'acme-error', 0],
    ['{labels.team}:{host.name}', '/p', ev, 'pay:HOST', 0],
  ];
  for (const [key, path, e, want, fallbacks] of cases) {
    it(`${key} on ${path === '/p' ? 'a plain path' : 'a pod path'}${e === bare ? ' without the field' : ''}`, () => {
      const r = record(
        { name: 's', service: 'svc', key, fields: { team: 'pay' } },
        { host_name: 'HOST' },
        path,
        e,
      );
      assert.equal(r.key, want);
      assert.equal(r.stats.key_fallback, fallbacks);
    });
  }
  it('global key applies when the source sets none', () => {
    assert.equal(record({ name: 's', service: 'svc' }, { key: 'service' }, '/p', ev).key, 'svc');
  });
  it('rejects a broken template', () => {
    assert.throws(
      () => createEnricher({ name: 's', key: '{service.name' }, { default_topic: 'l' }),
      /unclosed/,
    );
    assert.throws(
      () => createEnricher({ name: 's', key: '{a..b}' }, { default_topic: 'l' }),
      /not a field path/,
    );
  });
});

describe('topics', () => {
  const [ev] = events(['{"team":"Pay Ops/EU","level":"warn"}'], { parser: 'json' });
  it('default topic from sink.kafka.topic, per-source override', () => {
    assert.equal(record({ name: 's' }, {}, '/p', ev).topic, 'logs');
    assert.equal(record({ name: 's', topic: 'audit' }, {}, '/p', ev).topic, 'audit');
  });
  it('templates are sanitised to legal characters', () => {
    assert.equal(
      record({ name: 's', service: 'Check Out!', topic: 'logs-{service.name}' }, {}, '/p', ev).topic,
      'logs-Check_Out_',
    );
    assert.equal(
      record({ name: 's', topic: 'logs-{team}-{log.level}' }, {}, '/p', ev).topic,
      'logs-Pay_Ops_EU-warn',
    );
  });
  it('a missing field sends to the fallback topic and counts', () => {
    const r = record(
      { name: 's', topic: 'logs-{kubernetes.namespace}' },
      { fallback_topic: 'orphans' },
      '/p',
      ev,
    );
    assert.equal(r.topic, 'orphans');
    assert.equal(r.stats.topic_fallback, 1);
    const [bare] = events(['x']);
    assert.equal(record({ name: 's', topic: 't-{team}' }, {}, '/p', bare).topic, 'logferry-unrouted');
  });
  it('sanitizeTopic: length, dots and empty', () => {
    assert.equal(sanitizeTopic('a'.repeat(300))!.length, 249);
    assert.equal(sanitizeTopic('..'), undefined);
    assert.equal(sanitizeTopic(''), undefined);
    assert.equal(sanitizeTopic('ok.topic_1-x'), 'ok.topic_1-x');
  });
});
