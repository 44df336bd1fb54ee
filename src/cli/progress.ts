/** Draws engine task trees with listr2: a live tree on a terminal, plain lines in CI, nothing with --json. */
import { Listr, ListrLogger, ProcessOutput, type ListrTask } from 'listr2';
import type { Task } from '../engine/tasks.js';
import type { CliIO } from './io.js';

export async function runWithProgress(tasks: Task[], io: CliIO, options: { json: boolean; debug: boolean }): Promise<void> {
  const output = new ProcessOutput(io.stderr as NodeJS.WriteStream, io.stderr as NodeJS.WriteStream);
  const renderer = options.json ? 'silent' : io.interactive ? 'default' : 'simple';
  // Plain-line mode (CI) keeps step output in the log files only, unless --debug.
  const showOutput = io.interactive || options.debug;
  const list = new Listr(tasks.map((t) => toListr(t, showOutput)), {
    renderer,
    fallbackRenderer: 'simple',
    exitOnError: true,
    registerSignalListeners: false,
    rendererOptions: {
      processOutput: output,
      // The plain-line renderer writes through its logger: progress goes to stderr, never stdout.
      logger: new ListrLogger({ processOutput: output }),
      collapseSubtasks: true,
      outputBar: 3,
      timer: { condition: true, format: () => (s: string) => s, field: (d: number) => `${(d / 1000).toFixed(1)}s` },
    } as never,
  });
  try {
    await list.run();
  } catch (err) {
    // The progress view showed the failure's first line; the whole message is the CLI's to print.
    throw err instanceof ShownError ? err.cause : err;
  }
}

/** Carries a task's error through listr2, which prints only this short message under the task. */
class ShownError extends Error {
  constructor(override readonly cause: unknown) {
    super(String((cause as Error)?.message ?? cause).split('\n')[0]);
  }
}

function toListr(task: Task, showOutput: boolean): ListrTask {
  return {
    title: task.title,
    task: async (_ctx, wrapper) => {
      try {
        return await runOne(task, wrapper, showOutput);
      } catch (err) {
        throw err instanceof ShownError ? err : new ShownError(err);
      }
    },
  };
}

async function runOne(task: Task, wrapper: Parameters<ListrTask['task']>[1], showOutput: boolean) {
  let reused: string | undefined;
  let pending = '';
  const children = await task.run({
    output: (chunk) => {
      // listr2 shows the last lines of a task's output under it; feed it whole lines.
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      const last = lines.filter((l) => l.trim()).at(-1);
      if (last && showOutput) wrapper.output = last.slice(0, 200);
    },
    title: (t) => (wrapper.title = t),
    reuse: (reason) => (reused = reason),
  });
  if (reused) {
    // Nothing to do: the task completes, its title saying why ("— cached …", "— up to date …").
    wrapper.title = `${wrapper.title} — ${reused}`;
    return;
  }
  if (children && children.length) return wrapper.newListr(children.map((c) => toListr(c, showOutput)), { exitOnError: true });
}
