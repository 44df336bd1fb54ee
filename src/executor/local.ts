import { execa } from 'execa';
import { onCleanup } from '../util/cleanup.js';
import { ExecFailed, type ExecOptions, type Executor } from './executor.js';

/** Runs worker commands directly on this host (root on a Debian-family system). */
export function startLocalExecutor(): Executor {
  const running = new Set<ReturnType<typeof execa>>();
  // Each command leads its own process group, so stopping it stops what it started too.
  const interrupt = async () => {
    for (const child of running) {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    await Promise.allSettled([...running]);
  };
  const dispose = onCleanup(interrupt);
  return {
    kind: 'local',
    description: 'local host',
    toolsId: 'local',
    async exec(argv: string[], options: ExecOptions = {}) {
      const child = execa(argv[0]!, argv.slice(1), {
        env: options.env,
        all: true,
        reject: false,
        stdin: 'ignore',
        buffer: false,
        detached: true,
      });
      running.add(child);
      child.all?.on('data', (chunk: Buffer) => options.output?.(chunk));
      const result = await child;
      running.delete(child);
      if (result.exitCode !== 0) throw new ExecFailed(argv, result.exitCode ?? null);
    },
    interrupt,
    dispose,
  };
}
