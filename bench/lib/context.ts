import { linkSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Corpus } from '../corpus.ts';
import type { BenchKafka } from './kafka.ts';

/** What every scenario gets from bench/run.ts. */
export interface BenchContext {
  kafka: BenchKafka;
  /** bench/out (gitignored): corpora, work directories, results. */
  outDir: string;
  corpus: Corpus;
  /** Seconds of the fixed-rate (10k lines/s) latency phase; 0 skips it. */
  latencySeconds: number;
  latencyRate: number;
  log: (msg: string) => void;
}

/** A fresh work directory under bench/out/work. */
export function workDir(ctx: BenchContext, name: string): string {
  const parent = path.join(ctx.outDir, 'work');
  mkdirSync(parent, { recursive: true });
  return mkdtempSync(path.join(parent, `${name}-`));
}

/** Hard-links the corpus files into `dir` (instant, no copy: the tailer reads the same inodes). */
export function linkCorpus(corpus: Corpus, dir: string): void {
  for (const f of corpus.files) linkSync(f, path.join(dir, path.basename(f)));
}

export function writeJson(file: string, value: unknown): void {
  writeFileSync(file, JSON.stringify(value, null, 2));
}

export const GiB = 1024 ** 3;
export const MiB = 1024 ** 2;
