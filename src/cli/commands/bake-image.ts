import path from 'node:path';
import { layerTasks, snapshotKeys, type LayerResult, type SnapshotResult } from '../../engine/build-layer.js';
import { LayerCache } from '../../engine/cache.js';
import { LogDir } from '../../engine/logs.js';
import { keyringForBuild, readKeyring } from '../../bundle/keys.js';
import { findSystem, planSystem } from '../../engine/system.js';
import { planLayout } from '../../image/layout.js';
import { imageTasks, type ImageBuild } from '../../image/build-image.js';
import { predictToolsId, type ExecutorChoice } from '../../executor/open.js';
import { runAllCleanups } from '../../util/cleanup.js';
import type { CommandRun } from '../command.js';
import { buildDir, mirrorFrom, projectFor, workerFor } from '../context.js';
import { runWithProgress } from '../progress.js';
import { describePlan } from './bake-layer.js';
import { enforceCacheCap } from './cache-clean.js';

type Args = { system: string; executor: string; 'dry-run': boolean };

/** Builds (or finds up to date) the system's provisioning image; shared by `run` and `test`. */
export async function bakeImage(args: Args & CommandRun<object>['args'], io: CommandRun<object>['io']): Promise<ImageBuild & { imageSeconds: number; layers: { layer: string; key: string; status: string; snapshots: SnapshotResult[] }[] }> {
  const project = await projectFor(args, io);
  const { system, target } = findSystem(project, args.system);
  // What can be checked before any build: a fixed slot size that cannot fit the image size.
  if (system.image['rootfs-size'] !== undefined) planLayout(system, target, 0);
  const cache = new LayerCache(project.cacheDir);
  await cache.init();
  const executor = await workerFor(project, args, io);
  const secrets = target.config.recipes.includes('bakery-rauc')
    ? { keyring: await keyringForBuild(project, system, executor, io.env, (line) => { if (!args.json) io.stderr.write(`${line}\n`); }) }
    : {};
  const plan = await planSystem(project, args.system, { toolsId: executor.toolsId, mirror: mirrorFrom(io) }, secrets);
  const results = new Map<string, LayerResult>();
  const logs = new LogDir(path.join(buildDir(project), args.system, 'logs'));
  const env = { project, executor, cache, logs, mirror: mirrorFrom(io), system: args.system };
  const image: Partial<ImageBuild> = {};
  let imageStarted = 0;
  try {
    await runWithProgress(
      [
        ...layerTasks(env, plan.layers, results),
        {
          title: `image ${args.system}`,
          run: async () => {
            imageStarted = Date.now();
            return imageTasks(env, plan, results.get(plan.rootfs.key)!, buildDir(project), image);
          },
        },
      ],
      io,
      args,
    );
  } finally {
    await runAllCleanups();
  }
  const imageSeconds = (Date.now() - imageStarted) / 1000;
  await enforceCacheCap(project, cache, snapshotKeys(plan.layers));
  return {
    ...(image as ImageBuild),
    imageSeconds,
    layers: plan.layers.map((p) => ({ layer: p.name, key: p.key, status: results.get(p.key)!.status, snapshots: results.get(p.key)!.snapshots })),
  };
}

export async function run({ args, io }: CommandRun<Args>) {
  if (args['dry-run']) {
    const project = await projectFor(args, io);
    const plan = await planSystem(project, args.system, { toolsId: await predictToolsId(args.executor as ExecutorChoice), mirror: mirrorFrom(io) }, { keyring: await readKeyring(project, findSystem(project, args.system).system) });
    const layers = describePlan(plan.layers);
    if (!args.json) for (const p of layers) io.stdout.write(`${p.layer}  ${p.key.slice(0, 12)}  ${p.recipes.map((r) => r.name).join(', ') || '(bootstrap only)'}\n`);
    return { system: args.system, target: plan.target.name, plan: layers };
  }
  const built = await bakeImage(args, io);
  const out = {
    system: args.system,
    key: built.key,
    image: built.outputs.image,
    bmap: built.outputs.bmap,
    compressed: built.outputs.compressed,
    buildInfo: built.outputs.buildInfo,
    size: built.layout.size,
    layers: built.layers,
    /** Seconds of the image stage (partition images, table, bmap); the layers' are in their snapshots. */
    imageSeconds: built.imageSeconds,
    partitions: built.layout.partitions.map((p) => ({ number: p.number, name: p.name, role: p.role, start: p.start, size: p.size })),
  };
  if (!args.json) {
    io.stdout.write(`${built.outputs.image}\n`);
    for (const p of out.partitions) io.stdout.write(`  ${String(p.number).padStart(2)}  ${p.name.padEnd(10)} ${p.role.padEnd(9)} ${String(Math.round(p.size / 2 ** 20)).padStart(6)} MiB\n`);
  }
  return out;
}
