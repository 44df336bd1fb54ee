/** What commands share: the project, and the build session they hand to the build API. */
import path from 'node:path';
import { loadProject, type Project } from '../config/project.js';
import type { BuildSession } from '../build/session.js';
import type { ExecutorChoice } from '../executor/open.js';
import { BUILTIN_DIR } from '../util/paths.js';
import type { GlobalArgs } from './command.js';
import type { CliIO } from './io.js';
import { runWithProgress } from './progress.js';

export async function projectFor(args: GlobalArgs, io: CliIO): Promise<Project> {
  return loadProject(path.resolve(io.cwd, args.project), BUILTIN_DIR, io.env);
}

/** The build runtime of a command: notes on stderr (none with --json), details with --debug, listr2 progress. */
export async function sessionFor(args: GlobalArgs & { executor?: string; locked?: boolean }, io: CliIO): Promise<BuildSession> {
  const mirror = io.env.BAKERY_MIRROR?.trim();
  return {
    project: await projectFor(args, io),
    executor: (args.executor ?? 'auto') as ExecutorChoice,
    mirror: mirror ? mirror : undefined,
    locked: args.locked === true,
    env: io.env,
    note: (line) => {
      if (!args.json) io.stderr.write(`${line}\n`);
    },
    detail: (line) => {
      if (args.debug) io.stderr.write(`${line}\n`);
    },
    runTasks: (tasks) => runWithProgress(tasks, io, args),
  };
}
