/** Use case: plan (`--dry-run`) or build one layer and the chain under it; optionally export it. */
import { copyFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { assertUsable } from '../config/project.js';
import type { Architecture } from '../config/schema.js';
import { layerTasks, runStep, snapshotKeys, type LayerBuildEnv, type LayerResult, type SnapshotResult } from '../engine/build-layer.js';
import { LayerCache } from '../engine/cache.js';
import { LogDir } from '../engine/logs.js';
import { planLayer, type LayerPlan } from '../engine/plan.js';
import { ROOTFS_TOOL } from '../engine/steps.js';
import type { Task, TaskContext } from '../engine/tasks.js';
import { UserError } from '../errors.js';
import { predictToolsId } from '../executor/open.js';
import { onCleanup, runAllCleanups } from '../util/cleanup.js';
import { enforceCacheCap } from './cache.js';
import { buildDir, openWorker, type BuildSession } from './session.js';

/** A layer chain as `--dry-run` and `--json` show it. */
export interface PlannedLayer {
  layer: string;
  architecture: Architecture;
  key: string;
  parentKey?: string;
  bootstrap?: { suite: string; variant: string; packages: string[] };
  recipes: { name: string; parameters: unknown }[];
  snapshots: { step: string; key: string }[];
  /** In a dry run: whether the cache has the layer already. */
  cached?: boolean;
}

export function describePlan(plans: LayerPlan[]): PlannedLayer[] {
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

function checkLayer(session: BuildSession, layer: string): void {
  assertUsable(session.project, { layer });
  if (!session.project.layers.has(layer)) {
    throw new UserError(`unknown layer "${layer}"`, `layers: ${[...session.project.layers.keys()].join(', ')}`);
  }
}

/** The plan a build would follow, without a worker: the cache keys use the worker it would start. */
export async function planLayerBuild(session: BuildSession, layer: string, architecture: Architecture): Promise<PlannedLayer[]> {
  checkLayer(session, layer);
  const toolsId = await predictToolsId(session.executor);
  const plan = describePlan(await planLayer(session.project, layer, architecture, { toolsId, mirror: session.mirror }));
  const cache = new LayerCache(session.project.cacheDir);
  for (const p of plan) p.cached = (await cache.lookup(p.key, false)) !== undefined;
  return plan;
}

export interface BuiltLayer {
  layer: string;
  architecture: Architecture;
  key: string;
  status: string;
  contentBytes?: number;
  snapshots: SnapshotResult[];
  lowers: string[];
}

export async function buildLayer(session: BuildSession, layer: string, architecture: Architecture, options: { exportTo?: string } = {}): Promise<{ layers: BuiltLayer[]; exported?: string }> {
  checkLayer(session, layer);
  const { project } = session;
  const cache = new LayerCache(project.cacheDir);
  await cache.init();
  const executor = await openWorker(session);
  const plans = await planLayer(project, layer, architecture, { toolsId: executor.toolsId, mirror: session.mirror });
  const results = new Map<string, LayerResult>();
  const logs = new LogDir(path.join(buildDir(project), 'layers', `${layer}-${architecture}`, 'logs'));
  const env = { project, executor, cache, logs, mirror: session.mirror };
  const exported = options.exportTo;
  try {
    const tasks: Task[] = layerTasks(env, plans, results);
    if (exported) tasks.push({ title: `export ${path.basename(exported)}`, run: (ctx) => exportLayer(env, ctx, results.get(plans.at(-1)!.key)!, exported) });
    await session.runTasks(tasks);
  } finally {
    // Newest first: the layers' own cleanup (which needs the worker) before the worker goes.
    await runAllCleanups();
  }
  await enforceCacheCap(project, cache, snapshotKeys(plans), session.env);
  const layers = plans.map((p) => {
    const r = results.get(p.key)!;
    return { layer: p.name, architecture: p.architecture, key: p.key, status: r.status, contentBytes: r.entry.contentBytes, snapshots: r.snapshots, lowers: r.lowers };
  });
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
