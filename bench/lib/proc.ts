/**
 * Measuring one process from outside: CPU seconds (user + sys) from /proc/<pid>/stat and peak
 * resident memory (VmHWM) from /proc/<pid>/status. Only that process: a broker or the benchmark
 * itself is never counted. Threads are counted (they share the pid's stat); child processes are not.
 */
import { type ChildProcess, execFileSync, type SpawnOptions, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

let clkTck: number | undefined;

function ticksPerSecond(): number {
  if (clkTck === undefined) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

export interface ProcSample {
  /** user + system CPU seconds so far. */
  cpuSeconds: number;
  /** Peak resident set size so far, in bytes (VmHWM). */
  peakRssBytes: number;
}

/** CPU and peak RSS of a live process, or undefined once it is gone. */
export function sampleProcess(pid: number): ProcSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // rest[0] is field 3 (state); utime is field 14, stime field 15.
    const ticks = Number(rest[11]) + Number(rest[12]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
    return { cpuSeconds: ticks / ticksPerSecond(), peakRssBytes: hwm ? Number(hwm[1]) * 1024 : 0 };
  } catch {
    return undefined;
  }
}

/**
 * A child process sampled every `intervalMs` so its last figures survive its exit. `stop()` sends
 * SIGTERM and resolves with the exit code (SIGKILL after `killAfterMs`).
 */
export class WatchedProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  last: ProcSample = { cpuSeconds: 0, peakRssBytes: 0 };
  readonly #timer: NodeJS.Timeout;
  readonly exited: Promise<number | null>;
  stderrTail = '';

  constructor(cmd: string, args: readonly string[], opts: SpawnOptions = {}, intervalMs = 200) {
    this.child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    if (this.child.pid === undefined) throw new Error(`could not start ${cmd}`);
    this.pid = this.child.pid;
    const keep = (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString()).slice(-4000);
    };
    this.child.stderr?.on('data', keep);
    this.child.stdout?.on('data', keep);
    this.#timer = setInterval(() => this.sample(), intervalMs);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code) => {
        clearInterval(this.#timer);
        resolve(code);
      });
    });
  }

  /** Samples now (and keeps the figures); returns the latest known figures. */
  sample(): ProcSample {
    const s = sampleProcess(this.pid);
    // A process that exited but is not reaped yet (a zombie) has no VmHWM line: keep the peak seen.
    if (s)
      this.last = {
        cpuSeconds: s.cpuSeconds,
        peakRssBytes: Math.max(s.peakRssBytes, this.last.peakRssBytes),
      };
    return this.last;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async stop(killAfterMs = 30_000): Promise<number | null> {
    if (!this.running) return this.exited;
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), killAfterMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(t);
    }
  }
}

/** Reads the machine: CPU model, core count, memory, kernel. */
export function machineInfo(): {
  cpuModel: string;
  nproc: number;
  memoryGiB: number;
  kernel: string;
  loadavg: number[];
} {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1] ?? 'unknown';
  const mem = /MemTotal:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'));
  let nproc = 0;
  try {
    nproc = Number(execFileSync('nproc', { encoding: 'utf8' }).trim());
  } catch {
    nproc = (cpuinfo.match(/^processor/gm) ?? []).length;
  }
  const kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  const loadavg = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
  return {
    cpuModel: model.trim(),
    nproc,
    memoryGiB: mem ? Number(mem[1]) / 1024 / 1024 : 0,
    kernel,
    loadavg,
  };
}
