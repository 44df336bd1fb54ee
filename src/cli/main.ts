#!/usr/bin/env node
import { runAllCleanups } from '../util/cleanup.js';
import { processIO } from './io.js';
import { runCli } from './run.js';

// Ctrl-C / SIGTERM: undo what is in flight (worker containers, locks, work trees), then exit.
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`\nbakery: interrupted by ${signal}; removing partial work\n`);
    void runAllCleanups().finally(() => process.exit(130));
  });
}

// Output into a pipe whose reader has gone (`bakery list | head -1`): nothing more to say; undo
// what is in flight and end quietly, as a command that was only asked for its first lines.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    void runAllCleanups().finally(() => process.exit(0));
  });
}

process.exitCode = await runCli(process.argv.slice(2), processIO());
