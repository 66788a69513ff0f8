import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, posix } from 'node:path';
import { after, test } from 'node:test';
import ts from 'typescript';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { checkConfigCli, startupCheck } from './config-check.ts';
import { parseDockerfile } from './dockerfile-parse.ts';

// Manifests are plain objects from YAML; the Kubernetes shapes are checked by the schemas below.
// biome-ignore lint/suspicious/noExplicitAny: walking untyped YAML documents
type Obj = Record<string, any>;

const ROOT = new URL('../../', import.meta.url).pathname;
const DIRS = ['deploy/kubernetes', 'deploy/kubernetes/sidecar'];
const tmp = mkdtempSync(join(tmpdir(), 'logferry-k8s-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

interface Manifest {
  file: string;
  index: number;
  obj: Obj;
}

const manifests: Manifest[] = [];
for (const dir of DIRS) {
  for (const f of readdirSync(join(ROOT, dir)).filter(
    (f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml',
  )) {
    const file = join(dir, f);
    parseAllDocuments(readFileSync(join(ROOT, file), 'utf8')).forEach((doc, index) => {
      assert.deepEqual(doc.errors, [], `${file}: YAML`);
      const obj = doc.toJS() as Obj | null;
      if (obj !== null) manifests.push({ file, index, obj });
    });
  }
}
const find = (dir: string, kind: string, name?: string): Manifest[] =>
  manifests.filter(
    (m) =>
      dirname(m.file) === dir &&
      m.obj['kind'] === kind &&
      (name === undefined || m.obj['metadata']?.name === name),
  );

/** `apps/v1` + DaemonSet -> kubernetes-models/apps/v1/DaemonSet */
const modelPath = (m: Obj) => `kubernetes-models/${m['apiVersion']}/${m['kind']}`;

test('every manifest is valid against the Kubernetes OpenAPI schema (kubernetes-models)', async () => {
  assert.ok(manifests.length >= 7, `found ${manifests.length} manifests`);
  for (const m of manifests) {
    const mod = (await import(modelPath(m.obj))) as Record<string, new (d: Obj) => { validate(): void }>;
    const Model = mod[m.obj['kind']];
    assert.ok(Model, `${m.file}: no model for ${m.obj['apiVersion']} ${m.obj['kind']}`);
    assert.doesNotThrow(() => new Model(m.obj).validate(), `${m.file}#${m.index}`);
  }
});

test('the schema check rejects what it should (a wrong type, a missing required field)', async () => {
  const ds = find('deploy/kubernetes', 'DaemonSet')[0]!.obj;
  const { DaemonSet } = await import('kubernetes-models/apps/v1/DaemonSet');
  const bad = structuredClone(ds);
  bad['spec'].template.spec.containers[0].ports[0].containerPort = 'nine';
  assert.throws(() => new DaemonSet(bad).validate(), /containerPort/);
  const noImage = structuredClone(ds);
  delete noImage['spec'].template.spec.containers[0].name;
  assert.throws(() => new DaemonSet(noImage).validate(), /name/);
});

test('no manifest has an unknown field (strict: the models’ types with excess-property checks)', () => {
  // The OpenAPI schemas allow unknown fields (the API server drops them), so a typo such as
  // readOnlyRootFileSystem would pass silently; TypeScript's excess-property check catches it.
  const diagnostics = strictCheck(manifests.map((m) => m.obj));
  assert.deepEqual(diagnostics, []);
  const typo = structuredClone(find('deploy/kubernetes', 'DaemonSet')[0]!.obj);
  typo['spec'].template.spec.containers[0].securityContext.readOnlyRootFileSystem = true;
  const caught = strictCheck([typo]);
  assert.equal(caught.length, 1);
  assert.match(caught[0]!, /readOnlyRootFileSystem/);
});

test('kustomization.yaml lists every manifest but the examples, and kustomize builds it', () => {
  for (const dir of DIRS) {
    const k = parseYaml(readFileSync(join(ROOT, dir, 'kustomization.yaml'), 'utf8')) as {
      resources: string[];
    };
    const files = [...new Set(manifests.filter((m) => dirname(m.file) === dir).map((m) => basename(m.file)))];
    const expected = files.filter((f) => !f.includes('.example.')).sort();
    assert.deepEqual([...k.resources].sort(), expected, `${dir}/kustomization.yaml resources`);
  }
  const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
  if (kubectl.error !== undefined) {
    // kubectl is optional here: the listing above is still checked
    process.stdout.write('# kubectl not found: skipping `kubectl kustomize` builds\n');
    return;
  }
  for (const dir of DIRS) {
    const out = execFileSync('kubectl', ['kustomize', join(ROOT, dir)], { encoding: 'utf8' });
    const built = parseAllDocuments(out).map((d) => d.toJS() as Obj);
    assert.ok(built.length >= 2, `${dir}: kustomize output`);
    if (dir === 'deploy/kubernetes') {
      for (const o of built) {
        if (o['kind'] !== 'Namespace')
          assert.equal(o['metadata'].namespace, 'logging', `${o['kind']} namespaced`);
      }
    }
  }
});

test('DaemonSet: host log paths read-only, state dir writable, on every node, downward API', () => {
  const ds = find('deploy/kubernetes', 'DaemonSet')[0]!.obj;
  const pod = ds['spec'].template.spec as Obj;
  const c = container(pod, 'logferry');
  const hostMounts = mountsByHostPath(pod, c);
  assert.equal(hostMounts.get('/var/log')?.readOnly, true, '/var/log read-only');
  assert.equal(hostMounts.get('/var/log/pods')?.readOnly, true, '/var/log/pods read-only');
  const state = hostMounts.get('/var/lib/logferry');
  assert.ok(state, '/var/lib/logferry mounted');
  assert.notEqual(state.readOnly, true);
  assert.equal(state.type, 'DirectoryOrCreate');
  assert.ok(
    pod['tolerations'].some(
      (t: Obj) => t['operator'] === 'Exists' && t['key'] === undefined && t['effect'] === undefined,
    ),
    'a toleration that matches every taint',
  );
  assert.equal(fieldRef(c, 'NODE_NAME'), 'spec.nodeName');
  assert.equal(fieldRef(c, 'POD_NAME'), 'metadata.name');
  assert.equal(pod['serviceAccountName'], 'logferry');
  assert.equal(
    find('deploy/kubernetes', 'ServiceAccount', 'logferry').length,
    1,
    'the ServiceAccount exists',
  );
  assert.equal(pod['automountServiceAccountToken'], false, 'no API access is needed');
});

test('DaemonSet and sidecar: restrictive securityContext, the image’s uid', () => {
  const imageUid = Number(
    parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'))
      .stages.at(-1)!
      .instructions.filter((i) => i.cmd === 'USER')
      .at(-1)!
      .args.split(':')[0],
  );
  for (const [dir, kind] of [
    ['deploy/kubernetes', 'DaemonSet'],
    ['deploy/kubernetes/sidecar', 'Deployment'],
  ] as const) {
    const pod = find(dir, kind)[0]!.obj['spec'].template.spec as Obj;
    const c = container(pod, 'logferry');
    assert.equal(pod['securityContext'].runAsNonRoot, true, `${kind}: runAsNonRoot`);
    assert.equal(pod['securityContext'].runAsUser, imageUid, `${kind}: the Dockerfile's USER`);
    assert.equal(pod['securityContext'].seccompProfile?.type, 'RuntimeDefault');
    const sc = c['securityContext'] as Obj;
    assert.equal(sc['allowPrivilegeEscalation'], false);
    assert.equal(sc['readOnlyRootFilesystem'], true);
    assert.deepEqual(sc['capabilities'], { drop: ['ALL'] }, `${kind}: no capabilities at all`);
    assert.notEqual(sc['privileged'], true);
  }
  // the one root step: chown of the hostPath state dir, with CHOWN alone
  const pod = find('deploy/kubernetes', 'DaemonSet')[0]!.obj['spec'].template.spec as Obj;
  const init = (pod['initContainers'] as Obj[]).find((i) => i['name'] === 'state-dir-owner')!;
  assert.deepEqual(init['command'], ['chown', `${imageUid}:${imageUid}`, '/var/lib/logferry']);
  assert.deepEqual(init['securityContext'].capabilities, { drop: ['ALL'], add: ['CHOWN'] });
});

for (const [dir, kind] of [
  ['deploy/kubernetes', 'DaemonSet'],
  ['deploy/kubernetes/sidecar', 'Deployment'],
] as const) {
  test(`${kind} (${dir}): mounts, probes, grace period and memory match its ConfigMap's config`, async () => {
    const pod = find(dir, kind)[0]!.obj['spec'].template.spec as Obj;
    const c = container(pod, 'logferry');
    const env = containerEnv(c);

    // The config file the args name is the ConfigMap key mounted there.
    const args = c['args'] as string[];
    const configPath = args[args.indexOf('--config') + 1]!;
    const mount = (c['volumeMounts'] as Obj[]).find((v) => v['mountPath'] === posix.dirname(configPath));
    assert.ok(mount, `${configPath} is in a mounted directory`);
    const volume = (pod['volumes'] as Obj[]).find((v) => v['name'] === mount['name'])!;
    const cm = find(dir, 'ConfigMap', volume['configMap']?.name)[0];
    assert.ok(cm, `the ConfigMap ${volume['configMap']?.name} exists`);
    const key =
      (volume['configMap'].items as Obj[] | undefined)?.find(
        (i) => i['path'] === posix.basename(configPath),
      )?.['key'] ?? posix.basename(configPath);
    const text = cm.obj['data'][key] as string;
    assert.ok(text, `ConfigMap key ${key}`);

    // Every ${VAR} without a default is set in the container.
    for (const m of text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)) {
      assert.ok(env.has(m[1]!), `the config needs ${m[1]}: set it in the container's env`);
    }
    const file = join(tmp, `${kind}.yaml`);
    writeFileSync(file, text);
    const cliEnv = Object.fromEntries([...env].map(([k, v]) => [k, v ?? `test-${k.toLowerCase()}`]));
    const r = await checkConfigCli(file, cliEnv);
    assert.equal(r.code, 0, r.stderr);
    const config = startupCheck(file, { ...process.env, ...cliEnv }) as Obj;

    // data_dir is mounted writable; every include glob lies under a read-only mount.
    const mounts = c['volumeMounts'] as Obj[];
    const under = (p: string) =>
      mounts
        .filter((v) => p === v['mountPath'] || p.startsWith(`${v['mountPath']}/`))
        .sort((a, b) => b['mountPath'].length - a['mountPath'].length)[0];
    const dataMount = under(config['data_dir']);
    assert.ok(dataMount, `data_dir ${config['data_dir']} is on a volume (the root fs is read-only)`);
    assert.notEqual(dataMount['readOnly'], true, 'data_dir is writable');
    for (const source of config['sources'] as Obj[]) {
      for (const glob of source['include'] as string[]) {
        const fixed = glob.slice(0, glob.search(/[*?[{]/) === -1 ? glob.length : glob.search(/[*?[{]/));
        const m = under(posix.dirname(`${fixed}x`));
        assert.ok(m, `${glob} is on a mounted volume`);
        if (kind === 'DaemonSet') assert.equal(m['readOnly'], true, `${glob}: read-only`);
      }
    }

    // Probes: /healthz and /readyz on the port the agent listens on, reachable from the kubelet.
    const listen = (config['metrics']?.listen as string | undefined) ?? env.get('LOGFERRY_METRICS_LISTEN');
    assert.ok(listen, 'metrics.listen in the config, or LOGFERRY_METRICS_LISTEN in the env');
    const [host, port] = [
      listen.slice(0, listen.lastIndexOf(':')),
      Number(listen.slice(listen.lastIndexOf(':') + 1)),
    ];
    assert.doesNotMatch(
      host,
      /^(127\.|localhost$|\[?::1\]?$)/,
      'the kubelet cannot reach a loopback listener: set metrics.listen: 0.0.0.0:9464 in the ConfigMap',
    );
    const portOf = (p: number | string) =>
      typeof p === 'number' ? p : (c['ports'] as Obj[]).find((x) => x['name'] === p)?.['containerPort'];
    assert.equal(c['livenessProbe'].httpGet.path, '/healthz');
    assert.equal(portOf(c['livenessProbe'].httpGet.port), port);
    assert.equal(c['readinessProbe'].httpGet.path, '/readyz');
    assert.equal(portOf(c['readinessProbe'].httpGet.port), port);

    // Grace period above the shutdown timeout (default 25 s until shutdown.timeout exists).
    const shutdownS =
      (config['shutdown']?.timeout_ms as number | undefined) !== undefined
        ? config['shutdown'].timeout_ms / 1000
        : 25;
    assert.ok(
      pod['terminationGracePeriodSeconds'] >= shutdownS + 10,
      'grace period = shutdown timeout + 10 s at least',
    );

    // Memory, from measurements (bench/memory.ts, docs/tuning.md): ~192 MiB of runtime baseline
    // (Node, modules, the mapped binary, V8's young generation) plus up to ~10x the bound, which
    // counts the real cost of records in flight, as garbage between full GCs and client buffers.
    const buffer = config['buffer'].max_bytes as number;
    const limit = quantity(c['resources'].limits.memory);
    const request = quantity(c['resources'].requests.memory);
    assert.ok(
      limit >= 192 * MiB + 10 * buffer,
      `limits.memory ${limit / MiB} MiB >= 192 MiB + 10 x buffer.max_bytes`,
    );
    assert.ok(request <= limit && request >= buffer, 'requests.memory between the buffer and the limit');
    const heap = Number(/--max-old-space-size=(\d+)/.exec(env.get('NODE_OPTIONS') ?? '')?.[1]);
    assert.ok(
      heap * MiB >= 4 * buffer + 64 * MiB && heap * MiB <= limit - 128 * MiB,
      `--max-old-space-size=${heap} fits`,
    );
  });
}

const MiB = 1024 * 1024;

function quantity(q: string): number {
  const m = /^(\d+)(Ki|Mi|Gi)?$/.exec(q);
  assert.ok(m, `memory quantity ${q}`);
  return Number(m[1]) * ({ Ki: 1024, Mi: MiB, Gi: 1024 * MiB }[m[2] ?? ''] ?? 1);
}

function container(pod: Obj, name: string): Obj {
  const c = [...(pod['containers'] ?? []), ...(pod['initContainers'] ?? [])].find(
    (x: Obj) => x['name'] === name,
  );
  assert.ok(c, `container ${name}`);
  return c;
}

/** Name -> literal value, or undefined for values from the downward API or a Secret. */
function containerEnv(c: Obj): Map<string, string | undefined> {
  return new Map((c['env'] as Obj[]).map((e) => [e['name'], e['value']]));
}

function fieldRef(c: Obj, name: string): string | undefined {
  return (c['env'] as Obj[]).find((e) => e['name'] === name)?.['valueFrom']?.fieldRef?.fieldPath;
}

function mountsByHostPath(pod: Obj, c: Obj): Map<string, { readOnly: boolean | undefined; type: string }> {
  const out = new Map<string, { readOnly: boolean | undefined; type: string }>();
  for (const vm of c['volumeMounts'] as Obj[]) {
    const v = (pod['volumes'] as Obj[]).find((x) => x['name'] === vm['name']);
    if (v?.['hostPath']) {
      assert.equal(vm['mountPath'], v['hostPath'].path, 'host paths are mounted at the same path');
      out.set(v['hostPath'].path, { readOnly: vm['readOnly'], type: v['hostPath'].type });
    }
  }
  return out;
}

/** Type-checks each object against its kubernetes-models interface; returns the diagnostics. */
function strictCheck(objs: Obj[]): string[] {
  const files = new Map<string, string>();
  objs.forEach((o, i) => {
    const name = join(ROOT, 'test/deploy', `__manifest_${i}_${o['kind']}.ts`);
    files.set(
      name,
      `import type { I${o['kind']} } from '${modelPath(o)}';\nexport const m: I${o['kind']} = ${JSON.stringify(o, null, 1)};\n`,
    );
  });
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    skipLibCheck: true,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  host.getSourceFile = (f, lang, ...rest) => {
    const text = files.get(f);
    return text !== undefined ? ts.createSourceFile(f, text, lang) : getSourceFile(f, lang, ...rest);
  };
  host.fileExists = (f) => files.has(f) || fileExists(f);
  const program = ts.createProgram([...files.keys()], options, host);
  return ts
    .getPreEmitDiagnostics(program)
    .map(
      (d) => `${basename(d.file?.fileName ?? '')}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`,
    );
}
