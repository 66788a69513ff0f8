/**
 * Finding the C peers. rsyslog and syslog-ng cannot be installed together as Debian packages (both
 * provide system-log-daemon), so when rsyslogd is not installed the suite unpacks the rsyslog and
 * rsyslog-kafka packages (`apt-get download`, `dpkg-deb -x`) into bench/out/rsyslog-root and runs
 * that private copy with its own module directory. Nothing is installed or started system-wide.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';

export interface Rsyslog {
  binary: string;
  moduleDir: string;
  version: string;
}

function firstExisting(paths: readonly string[]): string | undefined {
  return paths.find((p) => existsSync(p));
}

export function findRsyslog(outDir: string): Rsyslog | string {
  const root = path.join(outDir, 'rsyslog-root');
  const systemBin = firstExisting(['/usr/sbin/rsyslogd']);
  const systemMods = firstExisting([
    '/usr/lib/x86_64-linux-gnu/rsyslog',
    '/usr/lib/aarch64-linux-gnu/rsyslog',
    '/usr/lib/rsyslog',
  ]);
  let binary: string | undefined;
  let moduleDir: string | undefined;
  if (systemBin && systemMods && existsSync(path.join(systemMods, 'omkafka.so'))) {
    binary = systemBin;
    moduleDir = systemMods;
  } else {
    if (!existsSync(path.join(root, 'usr/sbin/rsyslogd'))) {
      try {
        const debs = path.join(outDir, 'debs');
        mkdirSync(debs, { recursive: true });
        execFileSync('apt-get', ['download', 'rsyslog', 'rsyslog-kafka'], { cwd: debs, stdio: 'pipe' });
        for (const f of readdirSync(debs).filter((f) => f.endsWith('.deb'))) {
          execFileSync('dpkg-deb', ['-x', path.join(debs, f), root], { stdio: 'pipe' });
        }
      } catch (err) {
        return `rsyslog not installed and apt-get download rsyslog rsyslog-kafka failed: ${(err as Error).message.split('\n')[0]}`;
      }
    }
    binary = path.join(root, 'usr/sbin/rsyslogd');
    moduleDir = firstExisting(
      ['x86_64-linux-gnu', 'aarch64-linux-gnu', ''].map((a) => path.join(root, 'usr/lib', a, 'rsyslog')),
    );
    if (!moduleDir || !existsSync(path.join(moduleDir, 'omkafka.so')))
      return 'omkafka.so not found after unpacking rsyslog-kafka';
  }
  let version = 'unknown';
  try {
    version = execFileSync(binary, ['-v'], { encoding: 'utf8' }).split('\n')[0] ?? version;
  } catch (err) {
    return `rsyslogd does not run: ${(err as Error).message.split('\n')[0]}`;
  }
  return { binary, moduleDir, version };
}

export function findSyslogNg(): { binary: string; version: string } | string {
  const binary = firstExisting(['/usr/sbin/syslog-ng']);
  if (!binary) return 'syslog-ng not installed (apt-get install syslog-ng-core syslog-ng-mod-rdkafka)';
  const mod =
    firstExisting(['/usr/lib/syslog-ng/3.38/libkafka.so']) ??
    execFileSync('sh', ['-c', 'ls /usr/lib/syslog-ng/*/libkafka.so 2>/dev/null | head -1'], {
      encoding: 'utf8',
    }).trim();
  if (!mod) return 'syslog-ng-mod-rdkafka not installed (libkafka.so missing)';
  const version = execFileSync(binary, ['--version'], { encoding: 'utf8' }).split('\n')[0] ?? 'unknown';
  return { binary, version };
}
