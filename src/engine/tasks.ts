/**
 * The engine's unit of progress: a tree of titled tasks. The engine builds the tree; the CLI
 * draws it (listr2) and tests can run it with runTasks(). The engine never knows how it is shown.
 */
export interface TaskContext {
  /** Output of the running step (goes to its log file and the progress view). */
  output(chunk: Buffer | string): void;
  title(title: string): void;
  /** Nothing to do: the task's result already exists (a cache hit, an up-to-date output). */
  reuse(reason: string): void;
}

export interface Task {
  title: string;
  /** Returns subtasks to run after it, in order. */
  run: (ctx: TaskContext) => Promise<Task[] | void>;
}

/** Runs a task tree in order without drawing anything. */
export async function runTasks(tasks: Task[], onEvent?: (event: string) => void): Promise<void> {
  for (const task of tasks) {
    let title = task.title;
    const children = await task.run({
      output: () => undefined,
      title: (t) => (title = t),
      reuse: (reason) => onEvent?.(`reuse ${title}: ${reason}`),
    });
    onEvent?.(`done ${title}`);
    if (children) await runTasks(children, onEvent);
  }
}
