/** Use case: plan (`--dry-run`) or build a system's provisioning image, with the layers under it. */
import path from 'node:path';
import { keyringForBuild, readKeyring } from '../bundle/keys.js';
import { layerTasks, snapshotKeys, type LayerResult, type SnapshotResult } from '../engine/build-layer.js';
import { LayerCache } from '../engine/cache.js';
import { LogDir } from '../engine/logs.js';
import { findSystem, planSystem } from '../engine/system.js';
import { predictToolsId } from '../executor/open.js';
import { imageTasks, type ImageBuild } from '../image/build-image.js';
import { planLayout } from '../image/layout.js';
import { bootFlowOf } from '../targets/registry.js';
import { runAllCleanups } from '../util/cleanup.js';
import { enforceCacheCap } from './cache.js';
import { describePlan, type PlannedLayer } from './layer.js';
import { buildDir, openWorker, type BuildSession } from './session.js';

export interface PlannedImage {
  system: string;
  target: string;
  plan: PlannedLayer[];
}

/** What `bake image --dry-run` prints: the layer chain and keys the build would use. */
export async function planImageBuild(session: BuildSession, systemName: string): Promise<PlannedImage> {
  const { project } = session;
  const { system, target } = findSystem(project, systemName);
  bootFlowOf(target); // a draft target fails here, as the build would
  const toolsId = await predictToolsId(session.executor);
  const plan = await planSystem(project, systemName, { toolsId, mirror: session.mirror }, { keyring: await readKeyring(project, system) });
  return { system: systemName, target: plan.target.name, plan: describePlan(plan.layers) };
}

export interface BuiltImage extends ImageBuild {
  /** Seconds of the image stage (partition images, table, bmap); the layers' are in their snapshots. */
  imageSeconds: number;
  layers: { layer: string; key: string; status: string; snapshots: SnapshotResult[] }[];
}

/** Builds (or finds up to date) the system's image; `bundle` and `test` start from it too. */
export async function buildImage(session: BuildSession, systemName: string): Promise<BuiltImage> {
  const { project } = session;
  const { system, target } = findSystem(project, systemName);
  // What can be checked before any build: a draft boot flow, a fixed slot size that cannot fit the image size.
  bootFlowOf(target);
  if (system.image['rootfs-size'] !== undefined) planLayout(system, target, 0);
  const cache = new LayerCache(project.cacheDir);
  await cache.init();
  const executor = await openWorker(session);
  const secrets = target.config.recipes.includes('bakery-rauc') ? { keyring: await keyringForBuild(project, system, executor, session.env, session.note) } : {};
  const plan = await planSystem(project, systemName, { toolsId: executor.toolsId, mirror: session.mirror }, secrets);
  const results = new Map<string, LayerResult>();
  const logs = new LogDir(path.join(buildDir(project), systemName, 'logs'));
  const env = { project, executor, cache, logs, mirror: session.mirror, system: systemName };
  const image: Partial<ImageBuild> = {};
  let imageStarted = 0;
  try {
    await session.runTasks([
      ...layerTasks(env, plan.layers, results),
      {
        title: `image ${systemName}`,
        run: async () => {
          imageStarted = Date.now();
          return imageTasks(env, plan, results.get(plan.rootfs.key)!, buildDir(project), image);
        },
      },
    ]);
  } finally {
    await runAllCleanups();
  }
  const imageSeconds = (Date.now() - imageStarted) / 1000;
  await enforceCacheCap(project, cache, snapshotKeys(plan.layers), session.env);
  return {
    ...(image as ImageBuild),
    imageSeconds,
    layers: plan.layers.map((p) => ({ layer: p.name, key: p.key, status: results.get(p.key)!.status, snapshots: results.get(p.key)!.snapshots })),
  };
}
