import path from 'node:path';
import type { Architecture } from '../../config/schema.js';
import { copyFile, rename, rm } from 'node:fs/promises';
import { layerTasks, runStep, snapshotKeys, type LayerBuildEnv, type LayerResult } from '../../engine/build-layer.js';
import { ROOTFS_TOOL } from '../../engine/steps.js';
import type { TaskContext } from '../../engine/tasks.js';
import { LayerCache } from '../../engine/cache.js';
import { LogDir } from '../../engine/logs.js';
import { planLayer, type LayerPlan } from '../../engine/plan.js';
import { UserError } from '../../errors.js';
import { predictToolsId, type ExecutorChoice } from '../../executor/open.js';
import { onCleanup, runAllCleanups } from '../../util/cleanup.js';
import type { CommandRun } from '../command.js';
import { buildDir, mirrorFrom, projectFor, workerFor } from '../context.js';
import { runWithProgress } from '../progress.js';
import { enforceCacheCap } from './cache-clean.js';

type Args = { layer: string; arch: Architecture; executor: string; 'dry-run': boolean; export?: string };

export function describePlan(plans: LayerPlan[]) {
  return plans.map((p) => ({
    layer: p.name,
    architecture: p.architecture,
    key: p.key,
    parentKey: p.parentKey,
    bootstrap: p.bootstrap && { suite: p.bootstrap.suite, variant: p.bootstrap.variant, packages: p.bootstrap.packages },
    recipes: p.recipes.map((r) => ({ name: r.recipe.name, parameters: r.parameters })),
    snapshots: p.snapshots.map((s) => ({ step: s.step, key: s.key })),
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
  const env = { project, executor, cache, logs, mirror: mirrorFrom(io) };
  const exported = args.export && path.resolve(io.cwd, args.export);
  try {
    const tasks = layerTasks(env, plans, results);
    if (exported) tasks.push({ title: `export ${args.export}`, run: (ctx) => exportLayer(env, ctx, results.get(plans.at(-1)!.key)!, exported) });
    await runWithProgress(tasks, io, args);
  } finally {
    // Newest first: the layers' own cleanup (which needs the worker) before the worker goes.
    await runAllCleanups();
  }
  await enforceCacheCap(project, cache, snapshotKeys(plans));
  const layers = plans.map((p) => {
    const r = results.get(p.key)!;
    return { layer: p.name, architecture: p.architecture, key: p.key, status: r.status, contentBytes: r.entry.contentBytes, snapshots: r.snapshots, lowers: r.lowers };
  });
  if (!args.json) {
    for (const l of layers) {
      const built = l.snapshots.filter((s) => s.status === 'built').map((s) => s.step);
      io.stdout.write(`${l.layer} (${l.architecture})  ${l.key.slice(0, 12)}  ${built.length ? `built: ${built.join(', ')}` : 'cache hit'}\n`);
    }
  }
  return { layers, ...(exported ? { exported } : {}) };
}

/** The layer's merged root filesystem as a tarball; the file appears under its name when complete. */
async function exportLayer(env: LayerBuildEnv, ctx: TaskContext, layer: LayerResult, file: string): Promise<void> {
  const work = env.cache.workPath(`export-${layer.plan.key}`);
  // Made in the cache (which the worker sees), then moved: the file may be anywhere on the host.
  const temp = env.cache.tempDerived(layer.plan.key, 'tar');
  const removeWork = onCleanup(async () => {
    await env.executor.exec([ROOTFS_TOOL, 'remove', work]).catch(() => undefined);
    await rm(temp, { force: true });
  });
  const vars = { SOURCE_DATE_EPOCH: String(layer.plan.sourceDateEpoch) };
  await runStep(env, ctx, [layer.plan.name, 'export'], [ROOTFS_TOOL, 'view', path.join(work, 'rootfs'), ...layer.lowers], vars);
  await runStep(env, ctx, [layer.plan.name, 'export'], [ROOTFS_TOOL, 'export', path.join(work, 'rootfs'), temp], vars);
  await rename(temp, file).catch(async (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EXDEV') throw err;
    const partial = `${file}.${process.pid}.partial`;
    await copyFile(temp, partial);
    await rename(partial, file);
  });
  await removeWork();
}
