import path from 'node:path';
import { ConfigError } from '../../errors.js';
import { loadWorkflows } from '../../testing/workflow.js';
import type { CommandRun } from '../command.js';
import { projectFor } from '../context.js';
import { projectProblems } from '../../config/project.js';

/** Validates the whole project — every system, layer, recipe, target and test workflow — at once. */
export async function run({ args, io }: CommandRun<object>) {
  const project = await projectFor(args, io);
  const problems = projectProblems(project);
  let workflows = 0;
  try {
    workflows = (await loadWorkflows(path.join(project.dir, 'tests'), new Set(project.systems.keys()))).length;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.diagnostics);
  }
  if (problems.length) throw new ConfigError(problems);
  const counts = { systems: project.systems.size, layers: project.layers.size, recipes: project.recipes.size, targets: project.targets.size, workflows };
  if (!args.json) io.stdout.write(`ok: ${Object.entries(counts).map(([k, n]) => `${n} ${n === 1 ? k.slice(0, -1) : k}`).join(', ')}\n`);
  return counts;
}
