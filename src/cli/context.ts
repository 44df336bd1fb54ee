/** What commands share: the project, the worker, the build directories. */
import path from 'node:path';
import { loadProject, type Project } from '../config/project.js';
import type { Executor } from '../executor/executor.js';
import { openExecutor, type ExecutorChoice } from '../executor/open.js';
import { BAKERY_HOME } from '../util/paths.js';
import type { GlobalArgs } from './command.js';
import type { CliIO } from './io.js';

export async function projectFor(args: GlobalArgs, io: CliIO): Promise<Project> {
  return loadProject(path.resolve(io.cwd, args.project), BAKERY_HOME, io.env);
}

/** BAKERY_MIRROR: the apt mirror for every layer, overriding layer files. */
export function mirrorFrom(io: CliIO): string | undefined {
  const mirror = io.env.BAKERY_MIRROR?.trim();
  return mirror ? mirror : undefined;
}

export function buildDir(project: Project): string {
  return path.join(project.dir, 'build');
}

/** The worker for a command; `readOnly` adds directories it must read (a signing key kept outside the project). */
export async function workerFor(project: Project, args: GlobalArgs & { executor?: string }, io: CliIO, readOnly: string[] = []): Promise<Executor> {
  return openExecutor({
    choice: (args.executor ?? 'auto') as ExecutorChoice,
    mirror: mirrorFrom(io),
    mounts: { readWrite: [project.cacheDir, buildDir(project)], readOnly: [project.dir, BAKERY_HOME, ...readOnly] },
    log: (line) => {
      if (!args.json) io.stderr.write(`${line}\n`);
    },
    detail: (line) => {
      if (args.debug) io.stderr.write(`${line}\n`);
    },
  });
}
