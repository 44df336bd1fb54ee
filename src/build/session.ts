/**
 * The runtime a build is given by whoever drives it (the CLI, a benchmark, a test): the project,
 * which worker to use, the mirror, and where progress and notes go. The build API never reads
 * process state or prints on its own.
 */
import path from 'node:path';
import type { Project } from '../config/project.js';
import type { Task } from '../engine/tasks.js';
import type { Executor } from '../executor/executor.js';
import { openExecutor, type ExecutorChoice } from '../executor/open.js';
import { BAKERY_HOME } from '../util/paths.js';

export interface BuildSession {
  project: Project;
  /** Where the privileged work runs: "auto", "docker" or "local". */
  executor: ExecutorChoice;
  /** The apt mirror for every layer (BAKERY_MIRROR), overriding layer files. */
  mirror?: string;
  /** Refuse to build packages other than the project's bakery.lock holds (`--locked`). */
  locked?: boolean;
  /** The environment keys and caps are read from (BAKERY_SIGNING_KEY, BAKERY_CACHE_MAX_SIZE). */
  env: NodeJS.ProcessEnv;
  /** A line the user should see (what the worker is, a key that was made, a VM that started). */
  note(line: string): void;
  /** A line for --debug only. */
  detail(line: string): void;
  /** Runs a task tree, showing its progress; rejects with the first task error. */
  runTasks(tasks: Task[]): Promise<void>;
}

export function buildDir(project: Project): string {
  return path.join(project.dir, 'build');
}

/** The worker of a build; `readOnly` adds directories it must read (a signing key kept outside the project). */
export function openWorker(session: BuildSession, readOnly: string[] = []): Promise<Executor> {
  const { project } = session;
  return openExecutor({
    choice: session.executor,
    mirror: session.mirror,
    mounts: { readWrite: [project.cacheDir, buildDir(project)], readOnly: [project.dir, BAKERY_HOME, ...readOnly] },
    log: session.note,
    detail: session.detail,
  });
}
