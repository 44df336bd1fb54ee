import path from 'node:path';
import type { Architecture } from '../../config/schema.js';
import { layerTasks, type LayerResult } from '../../engine/build-layer.js';
import { LayerCache } from '../../engine/cache.js';
import { LogDir } from '../../engine/logs.js';
import { planLayer, type LayerPlan } from '../../engine/plan.js';
import { UserError } from '../../errors.js';
import { predictToolsId, type ExecutorChoice } from '../../executor/open.js';
import { runAllCleanups } from '../../util/cleanup.js';
import type { CommandRun } from '../command.js';
import { buildDir, mirrorFrom, projectFor, workerFor } from '../context.js';
import { runWithProgress } from '../progress.js';
import { enforceCacheCap } from './cache-clean.js';

type Args = { layer: string; arch: Architecture; executor: string; 'dry-run': boolean };

export function describePlan(plans: LayerPlan[]) {
  return plans.map((p) => ({
    layer: p.name,
    architecture: p.architecture,
    key: p.key,
    parentKey: p.parentKey,
    bootstrap: p.bootstrap && { suite: p.bootstrap.suite, variant: p.bootstrap.variant, packages: p.bootstrap.packages },
    recipes: p.recipes.map((r) => ({ name: r.recipe.name, parameters: r.parameters })),
  }));
}

export async function run({ args, io }: CommandRun<Args>) {
  const project = await projectFor(args, io);
  if (!project.layers.has(args.layer)) {
    throw new UserError(`unknown layer "${args.layer}"`, `layers: ${[...project.layers.keys()].join(', ')}`);
  }
  if (args['dry-run']) {
    const toolsId = await predictToolsId(args.executor as ExecutorChoice);
    const plan = describePlan(await planLayer(project, args.layer, args.arch, { toolsId, mirror: mirrorFrom(io) }));
    if (!args.json) {
      for (const p of plan) io.stdout.write(`${p.layer}  ${p.key.slice(0, 12)}  ${p.recipes.map((r) => r.name).join(', ') || '(bootstrap only)'}\n`);
    }
    return { plan };
  }
  const cache = new LayerCache(project.cacheDir);
  await cache.init();
  const executor = await workerFor(project, args, io);
  const plans = await planLayer(project, args.layer, args.arch, { toolsId: executor.toolsId, mirror: mirrorFrom(io) });
  const results = new Map<string, LayerResult>();
  const logs = new LogDir(path.join(buildDir(project), 'layers', `${args.layer}-${args.arch}`, 'logs'));
  try {
    await runWithProgress(layerTasks({ project, executor, cache, logs, mirror: mirrorFrom(io) }, plans, results), io, args);
  } finally {
    // Newest first: the layers' own cleanup (which needs the worker) before the worker goes.
    await runAllCleanups();
  }
  await enforceCacheCap(project, cache, new Set(plans.map((p) => p.key)));
  const layers = plans.map((p) => {
    const r = results.get(p.key)!;
    return { layer: p.name, architecture: p.architecture, key: p.key, status: r.status, size: r.entry.size, tar: r.entry.tar };
  });
  if (!args.json) {
    for (const l of layers) io.stdout.write(`${l.layer} (${l.architecture})  ${l.status === 'hit' ? 'cache hit' : 'built    '}  ${l.key.slice(0, 12)}  ${l.tar}\n`);
  }
  return { layers };
}
