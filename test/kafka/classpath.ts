/**
 * The Java side of the test harness: find Java 17+ and Maven, and resolve the Kafka jars named in
 * test/kafka/pom.xml into a classpath.
 *
 * Maven downloads into its local repository (~/.m2, or wherever MAVEN_OPTS / settings.xml point);
 * the resulting classpath is cached in .kafka/classpath.txt as two lines:
 *   pom-sha256 <hex digest of pom.xml>
 *   <classpath, ':'-separated>
 * A changed pom, or a jar that vanished from the local repository, makes the next call resolve again.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { KafkaHarnessError } from './errors.ts';

const execFileP = promisify(execFile);

export const repoRoot = path.resolve(import.meta.dirname, '..', '..');
/** Gitignored: cached classpath, shared-broker address, logs of Maven runs. */
export const kafkaStateDir = path.join(repoRoot, '.kafka');
const pomPath = path.join(import.meta.dirname, 'pom.xml');
const cachePath = path.join(kafkaStateDir, 'classpath.txt');

const JAVA_INSTALL_HINT = 'apt-get install openjdk-17-jre-headless, or set JAVA_HOME';
const MIN_JAVA = 17;

/** The java binary: $JAVA_HOME/bin/java when JAVA_HOME is set, else `java` from PATH. */
export function javaBinary(): string {
  const home = process.env['JAVA_HOME'];
  return home ? path.join(home, 'bin', 'java') : 'java';
}

let javaChecked: Promise<string> | undefined;

/** Resolves to the java binary once it is known to be Java 17 or newer; rejects with a one-line fix. */
export function checkJava(): Promise<string> {
  javaChecked ??= (async () => {
    const java = javaBinary();
    let out: string;
    try {
      const r = await execFileP(java, ['-version'], { timeout: 30_000 });
      out = `${r.stderr}${r.stdout}`;
    } catch {
      throw new KafkaHarnessError(
        `Java ${MIN_JAVA}+ not found (tried ${java}): install it (${JAVA_INSTALL_HINT})`,
      );
    }
    // `openjdk version "17.0.15"`, `java version "1.8.0_392"`, `openjdk version "21" 2023-09-19`
    const m = /version "(\d+)(?:\.(\d+))?/.exec(out);
    const major = m ? (m[1] === '1' ? Number(m[2]) : Number(m[1])) : 0;
    if (major < MIN_JAVA) {
      throw new KafkaHarnessError(
        `Java ${MIN_JAVA}+ required, found ${m ? `Java ${major}` : 'an unknown version'} at ${java}: install it (${JAVA_INSTALL_HINT})`,
      );
    }
    return java;
  })();
  javaChecked.catch(() => {
    javaChecked = undefined;
  });
  return javaChecked;
}

async function checkMaven(): Promise<void> {
  try {
    await execFileP('mvn', ['-v'], { timeout: 60_000 });
  } catch {
    throw new KafkaHarnessError(
      'Maven not found (needed once to download the Kafka jars): install it (apt-get install maven)',
    );
  }
}

function parseCache(text: string, pomHash: string): string | undefined {
  const nl = text.indexOf('\n');
  if (nl < 0 || text.slice(0, nl) !== `pom-sha256 ${pomHash}`) return undefined;
  const cp = text.slice(nl + 1).trim();
  if (cp === '') return undefined;
  // ~/.m2 may have been cleaned since; a classpath with holes would fail much later and obscurely.
  for (const jar of cp.split(path.delimiter)) if (!existsSync(jar)) return undefined;
  return cp;
}

export interface ClasspathOptions {
  /** Told when Maven has to run (it takes about a minute on an empty ~/.m2). */
  onResolve?: (message: string) => void;
  /** Resolve with Maven even when the cache is fresh (for timing). */
  force?: boolean;
  /** Extra Maven arguments, e.g. `-Dmaven.repo.local=/tmp/m2-empty`. */
  mavenArgs?: readonly string[];
}

let resolved: Promise<string> | undefined;

/**
 * The ':'-separated classpath of a Kafka broker plus its tools. Checks Java first (nothing works
 * without it), then uses the cache, and runs Maven only when the cache is stale.
 */
export function kafkaClasspath(opts: ClasspathOptions = {}): Promise<string> {
  if (opts.force || opts.mavenArgs) return resolveClasspath(opts);
  resolved ??= resolveClasspath(opts);
  resolved.catch(() => {
    resolved = undefined;
  });
  return resolved;
}

async function resolveClasspath(opts: ClasspathOptions): Promise<string> {
  await checkJava();
  const pomHash = createHash('sha256')
    .update(await readFile(pomPath))
    .digest('hex');
  const fromCache = async () => parseCache(await readFile(cachePath, 'utf8').catch(() => ''), pomHash);
  if (opts.force || opts.mavenArgs) return runMaven(opts, pomHash);
  const cp = await fromCache();
  if (cp !== undefined) return cp;
  await checkMaven();
  // Test files started in parallel must not run Maven side by side into one ~/.m2: one does, the
  // others wait for its cache file.
  return withMavenLock(async () => (await fromCache()) ?? runMaven(opts, pomHash), fromCache);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function withMavenLock(
  fn: () => Promise<string>,
  resolvedMeanwhile: () => Promise<string | undefined>,
): Promise<string> {
  await mkdir(kafkaStateDir, { recursive: true });
  const lockPath = path.join(kafkaStateDir, 'maven.lock');
  for (;;) {
    try {
      await writeFile(lockPath, String(process.pid), { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = Number(await readFile(lockPath, 'utf8').catch(() => ''));
    const age = await stat(lockPath).then(
      (st) => Date.now() - st.mtimeMs,
      () => 0,
    );
    // A holder that died (or never wrote its pid) leaves a stale lock behind.
    if ((holder > 0 && !pidAlive(holder)) || (!(holder > 0) && age > 10_000)) {
      await rm(lockPath, { force: true });
      continue;
    }
    await sleep(500);
    const cp = await resolvedMeanwhile();
    if (cp !== undefined) return cp;
  }
  try {
    return await fn();
  } finally {
    await rm(lockPath, { force: true });
  }
}

async function runMaven(opts: ClasspathOptions, pomHash: string): Promise<string> {
  await checkMaven();
  await mkdir(kafkaStateDir, { recursive: true });
  opts.onResolve?.('resolving Kafka jars with Maven (about a minute on a fresh machine)');
  const tag = `${process.pid}-${Date.now()}`;
  const outFile = path.join(kafkaStateDir, `classpath-${tag}.tmp`);
  const mavenLog = path.join(kafkaStateDir, 'maven.log');
  const args = [
    '-B',
    '-f',
    pomPath,
    ...(opts.mavenArgs ?? []),
    'dependency:build-classpath',
    `-Dmdep.outputFile=${outFile}`,
  ];
  try {
    const r = await execFileP('mvn', args, { timeout: 15 * 60_000, maxBuffer: 64 * 1024 * 1024 });
    await writeFile(mavenLog, `${r.stdout}${r.stderr}`);
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    await writeFile(mavenLog, `${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
    throw new KafkaHarnessError(
      `Maven could not resolve the Kafka jars (log: ${mavenLog}): check network access to Maven Central or proxy settings in ~/.m2/settings.xml`,
    );
  }
  const cp = (await readFile(outFile, 'utf8')).trim();
  await rm(outFile, { force: true });
  if (opts.mavenArgs) return cp; // resolved against some other repository: not the one to cache
  // Written whole then renamed: a reader never sees half a file.
  const tmp = path.join(kafkaStateDir, `classpath-${tag}.txt.tmp`);
  await writeFile(tmp, `pom-sha256 ${pomHash}\n${cp}\n`);
  await rename(tmp, cachePath);
  return cp;
}

const TOOLS_LOG4J = `status = error
appender.err.type = Console
appender.err.name = err
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = err
`;

/** A log4j2 config for command-line tools: warnings and errors to stderr, so stdout is the tool's output. */
export async function toolsLog4jConfig(): Promise<string> {
  const file = path.join(kafkaStateDir, 'tools-log4j2.properties');
  if ((await readFile(file, 'utf8').catch(() => '')) !== TOOLS_LOG4J) {
    await mkdir(kafkaStateDir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, TOOLS_LOG4J);
    await rename(tmp, file);
  }
  return file;
}

export interface JavaRunResult {
  stdout: string;
  stderr: string;
}

/**
 * Runs `java -cp <kafka classpath> mainClass ...args` to completion. Rejects (with the exit code and
 * the end of stderr in the message) when it exits non-zero or runs past timeoutMs.
 */
export async function runJava(
  mainClass: string,
  args: readonly string[],
  opts: { timeoutMs?: number; jvmArgs?: readonly string[] } = {},
): Promise<JavaRunResult> {
  const java = await checkJava();
  const cp = await kafkaClasspath();
  const log4j = await toolsLog4jConfig();
  const argv = [
    '-Xmx256m',
    '-XX:TieredStopAtLevel=1',
    '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${log4j}`,
    ...(opts.jvmArgs ?? []),
    '-cp',
    cp,
    mainClass,
    ...args,
  ];
  try {
    const r = await execFileP(java, argv, {
      timeout: opts.timeoutMs ?? 120_000,
      killSignal: 'SIGKILL',
      maxBuffer: 256 * 1024 * 1024,
    });
    return { stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number | string; signal?: string; stderr?: string; stdout?: string };
    const tail = (e.stderr || e.stdout || '').trim().split('\n').slice(-5).join(' | ');
    const how = e.signal ? `was killed (${e.signal}, timeout?)` : `exited with ${e.code}`;
    throw new KafkaHarnessError(`${mainClass} ${how}: ${tail}`);
  }
}
