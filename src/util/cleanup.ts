/**
 * Cleanup that must run however a command ends — success, failure or Ctrl-C: removing worker
 * containers, temporary files, locks. The CLI runs what is left on a signal before exiting.
 */
type Cleanup = () => Promise<void> | void;

const pending = new Set<() => Promise<void>>();

/** Registers fn; returns a function that runs it once and unregisters it. */
export function onCleanup(fn: Cleanup): () => Promise<void> {
  // A second caller (say, the signal handler while the command unwinds) waits for the same run.
  let running: Promise<void> | undefined;
  const run = () => {
    running ??= (async () => {
      try {
        await fn();
      } finally {
        pending.delete(run);
      }
    })();
    return running;
  };
  pending.add(run);
  return run;
}

/** Runs every registered cleanup, newest first; errors are collected, not thrown. */
export async function runAllCleanups(): Promise<unknown[]> {
  const errors: unknown[] = [];
  for (const fn of [...pending].reverse()) {
    try {
      await fn();
    } catch (err) {
      errors.push(err);
    }
  }
  return errors;
}
