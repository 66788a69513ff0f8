/** The generated block of docs/benchmarks.md and docs/benchmarks.svg, from one saved run. */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { machineInfo } from './proc.ts';
import {
  barChartSvg,
  markdownTable,
  type ScenarioResult,
  type TargetVerdict,
  targetsMarkdown,
  writeDocBlock,
} from './report.ts';

/** What bench/run.ts saves as bench/out/results-<date>.json. */
export interface RunDoc {
  date: string;
  argv?: string;
  machine: ReturnType<typeof machineInfo>;
  versions: Record<string, string>;
  corpus: { bytes: number; lines: number; kinds: Record<string, number>; seed: number };
  options: { quick: boolean; size: number; scenarios: string[]; latencySeconds: number; latencyRate: number };
  results: ScenarioResult[];
  targets: TargetVerdict[];
  merged?: { date: string; ids: string[] }[];
}

const n = (x: number | undefined) => (x ?? 0).toLocaleString('en-US');

export function renderDocs(repo: string, doc: RunDoc, argv: string): void {
  const { machine, versions, corpus, date } = doc;
  const notes = doc.results
    .filter((r) => r.notes?.length)
    .map((r) => `- **${r.title}**: ${(r.notes ?? []).join('; ')}`)
    .join('\n');
  const merged = (doc.merged ?? [])
    .map(
      (m) =>
        `Rows ${m.ids.join(', ')} come from a separate run at ${m.date.slice(0, 16).replace('T', ' ')} UTC.`,
    )
    .join(' ');
  const block = `## Latest run (generated)

Run ${date.slice(0, 16).replace('T', ' ')} UTC with \`npm run bench -- ${argv || `--size ${doc.options.size / 1e6}MB`}\`. ${merged}

Machine: ${machine.cpuModel}, ${machine.nproc} CPUs (nproc), ${machine.memoryGiB.toFixed(1)} GiB memory, Linux ${machine.kernel};
load average at the end ${machine.loadavg.join(' / ')}. **The machine is shared and noisy** (other builds
and tests run on it at the same time): ratios within one run mean more than absolute figures, and a
second run can differ by tens of percent. The broker (Kafka ${versions['kafka']}, one node, 1 GiB heap,
${versions['java']}) runs on the same ${machine.nproc} CPUs as the process under test.

Versions: Node ${versions['node']}, kafkajs ${versions['kafkajs']}, @platformatic/kafka ${versions['@platformatic/kafka']},
logferry at ${versions['logferry']}.

Corpus: ${(corpus.bytes / 1e6).toFixed(0)} MB, ${n(corpus.lines)} lines (seed ${corpus.seed}: ${n(corpus.kinds['nginx'])} nginx access lines,
${n(corpus.kinds['json'])} JSON application lines, ${n(corpus.kinds['java'])} Java error events of several lines each).

${markdownTable(doc.results)}
"× rsyslog" and "× ProducerPerf" are lines (records) per second against those rows of this run.
CPU s/GiB is user + system CPU of the measured process alone per GiB (2^30 bytes) of raw log; MB/s
are 10^6 bytes of raw log per second. p50/p99 are append → ack latency at a fixed
${n(doc.options.latencyRate)} lines/s (${doc.options.latencySeconds} s per scenario). A FAILED row did not
deliver every line; its partial figures are in the JSON only.

![MB/s per scenario](benchmarks.svg)

### Issue 9's targets, judged on this run

${targetsMarkdown(doc.targets)}
### Scenario notes

${notes}
`;
  writeDocBlock(path.join(repo, 'docs', 'benchmarks.md'), block);
  writeFileSync(
    path.join(repo, 'docs', 'benchmarks.svg'),
    barChartSvg(
      doc.results,
      `logferry benchmark, ${(corpus.bytes / 1e6).toFixed(0)} MB corpus, ${date.slice(0, 10)} (shared ${machine.nproc}-CPU machine)`,
    ),
  );
}
