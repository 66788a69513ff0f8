#!/usr/bin/env node
import { enableCompileCache } from 'node:module';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';

// The CLI is TypeScript run by Node's type stripping (Node >= 22.18, 23.6 or 24), with no build step.
if (!process.features.typescript) {
  process.stderr.write(
    `logferry: Node.js ${process.versions.node} cannot run it: use Node.js 24 LTS (in the checkout, run it through npm or npx, which use the pinned Node 24)\n`,
  );
  process.exit(2);
}

// libuv's thread pool (file reads, lz4 and zstd compression) sized to the CPUs this process may
// use, 2 to 4: its default of 4 threads oversubscribed a 2-CPU host. Measured on the 1 GB headline
// (2 CPUs, alternating pairs): peak RSS 125-126 against 133-135 MiB in every pair; lines/s and
// CPU-s/GiB the same or better (one set of 3 pairs 9.3-9.9 against 9.7-10.8 CPU-s/GiB, another
// within noise). libuv reads it when the pool first starts, which is later than this; `run`'s
// re-execution (src/cli/run.ts) passes it on. A size the user set, or LOGFERRY_NODE_DEFAULTS=0, is
// left alone.
if (process.env.LOGFERRY_NODE_DEFAULTS !== '0' && process.env.UV_THREADPOOL_SIZE === undefined)
  process.env.UV_THREADPOOL_SIZE = String(Math.min(4, Math.max(2, availableParallelism())));
// V8 flags that take effect at run time (e.g. --heap-growing-percent=50: less memory, more GC CPU).
if (process.env.LOGFERRY_V8_FLAGS) setFlagsFromString(process.env.LOGFERRY_V8_FLAGS);
// Node strips the types of each .ts module with a WebAssembly compiler that, once loaded, stays in
// memory: ~20 MiB of the idle agent's RSS. The compile cache keeps the stripped code (and V8's code
// cache) on disk, so a start whose modules are all cached never loads it (idle RSS 143 -> 119 MiB).
// The cache lives in the checkout's own .cache/ rather than in a shared /tmp, whose entries another
// local user could plant: whoever can write there can already change the code. Where the agent may
// not write (a root-owned install), the cache is silently off; NODE_COMPILE_CACHE names another
// directory; NODE_DISABLE_COMPILE_CACHE=1 (or LOGFERRY_NODE_DEFAULTS=0) turns it off.
if (process.env.LOGFERRY_NODE_DEFAULTS !== '0')
  enableCompileCache(
    process.env.NODE_COMPILE_CACHE || fileURLToPath(new URL('../.cache/node-compile-cache', import.meta.url)),
  );
await import('../src/cli/main.ts');
