#!/usr/bin/env node
// The CLI is TypeScript run by Node's type stripping (Node >= 22.18, 23.6 or 24), with no build step.
if (!process.features.typescript) {
  process.stderr.write(
    `logferry: Node.js ${process.versions.node} cannot run it: use Node.js 24 LTS (in the checkout, run it through npm or npx, which use the pinned Node 24)\n`,
  );
  process.exit(2);
}
await import('../src/cli/main.ts');
