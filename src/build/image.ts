/** Use case: plan (`--dry-run`) or build a system's provisioning image, with the layers under it. */
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { keyringForBuild, plannedKeyring } from '../bundle/keys.js';
import type { System } from '../config/project.js';
import type { Target } from '../config/target.js';
import { layerTasks, snapshotKeys, type LayerResult, type SnapshotResult } from '../engine/build-layer.js';
import { LayerCache } from '../engine/cache.js';
import { LogDir } from '../engine/logs.js';
import { ROOTFS_TOOL } from '../engine/steps.js';
import { findSystem, planSystem, type SystemPlan } from '../engine/system.js';
import { UserError } from '../errors.js';
import { ExecFailed, type Executor } from '../executor/executor.js';
import { LOCK_FILE, lockedSystem, lockEntry, lockMismatches, mirrorDrift, parseMirrorIndex, refuseDrift, writeLockEntry, type LockedSystem } from '../sbom/lock.js';
import { systemPackages } from '../sbom/packages.js';
import { predictToolsId } from '../executor/open.js';
import { imageTasks, type ImageBuild } from '../image/build-image.js';
import { planLayout, type DiskLayout } from '../image/layout.js';
import { bootFlowOf } from '../targets/registry.js';
import { runAllCleanups } from '../util/cleanup.js';
import { enforceCacheCap } from './cache.js';
import { describePlan, type PlannedLayer } from './layer.js';
import { buildDir, openWorker, type BuildSession } from './session.js';

/** A layer of an image plan: whether the cache has it; `key` null while it depends on a signing pair the build makes first. */
export type PlannedImageLayer = Omit<PlannedLayer, 'key' | 'snapshots'> & { key: string | null; cached: boolean; snapshots: { step: string; key: string | null }[] };

export interface PlannedImage {
  system: string;
  target: string;
  plan: PlannedImageLayer[];
  /** The partition table; slot sizes (and what follows them) null when they are sized from the root filesystem's content. */
  layout: { table: string; size: number | null; partitions: { number: number; name: string; role: string; start: number | null; size: number | null }[] };
  notes: string[];
}

/**
 * Everything a build checks before its first expensive step, in one place for the build and its
 * dry run: the target's boot flow is implemented; the layout's fixed parts fit (raw areas before
 * the first partition, fixed slot and image sizes); the keyring devices will trust exists or is
 * made by the build (undefined).
 */
async function preflight(session: BuildSession, system: System, target: Target): Promise<{ layout: DiskLayout; keyring: string | undefined; rauc: boolean }> {
  bootFlowOf(target);
  // Content 0 is the most lenient: what fails here fails for any root filesystem.
  const layout = planLayout(system, target, 0);
  const rauc = target.config.recipes.includes('bakery-rauc');
  const keyring = rauc ? await plannedKeyring(session.project, system, session.env) : undefined;
  return { layout, keyring, rauc };
}

/** What `bake image --dry-run` prints: the checks of the build, then the layer chain (cached or not) and keys it would use, and the partition table. */
export async function planImageBuild(session: BuildSession, systemName: string): Promise<PlannedImage> {
  const { project } = session;
  const { system, target } = findSystem(project, systemName);
  const { layout, keyring, rauc } = await preflight(session, system, target);
  const toolsId = await predictToolsId(session.executor);
  const plan = await planSystem(project, systemName, { toolsId, mirror: session.mirror }, { keyring });
  const cache = new LayerCache(project.cacheDir);
  const pending = rauc && keyring === undefined;
  const notes = pending ? ['no signing pair yet: the build makes keys/dev.{cert,key}.pem first; the system layer\'s key depends on the certificate, so it is known only then (`bakery keys generate` makes it now)'] : [];
  const layers: PlannedImageLayer[] = [];
  for (const [i, p] of describePlan(plan.layers).entries()) {
    const own = pending && plan.layers[i] === plan.rootfs;
    layers.push({
      ...p,
      key: own ? null : p.key,
      cached: own ? false : (await cache.lookup(p.key, false)) !== undefined,
      snapshots: p.snapshots.map((s) => ({ step: s.step, key: own ? null : s.key })),
    });
  }
  // Slots sized from their content: their sizes, and the starts after them, come with the build.
  const fixed = system.image['rootfs-size'] !== undefined;
  let known = true;
  const partitions = layout.partitions.map((p) => {
    const slot = p.role === 'rootfs-a' || p.role === 'rootfs-b';
    const start = known ? p.start : null;
    if (slot && !fixed) known = false;
    return { number: p.number, name: p.name, role: p.role, start, size: slot && !fixed ? null : p.size };
  });
  if (!fixed) notes.push('the slots are sized from the root filesystem (set image.rootfs-size to fix them)');
  return { system: systemName, target: plan.target.name, plan: layers, layout: { table: layout.table, size: fixed || system.image.size !== undefined ? layout.size : null, partitions }, notes };
}

export interface BuiltImage extends ImageBuild {
  /** Seconds of the image stage (partition images, table, bmap); the layers' are in their snapshots. */
  imageSeconds: number;
  layers: { layer: string; key: string; status: string; snapshots: SnapshotResult[] }[];
}

/**
 * With --locked, before anything is built: when a layer must be built (not in the cache), the
 * versions the mirror offers now are compared with the lock, so a moved mirror fails in seconds.
 */
async function refuseMirrorDrift(session: BuildSession, executor: Executor, cache: LayerCache, plan: SystemPlan, locked: LockedSystem): Promise<void> {
  const toBuild: string[] = [];
  for (const l of plan.layers) if (toBuild.length || !(await cache.lookup(l.key, false))) toBuild.push(l.name);
  const bootstrap = plan.layers[0]?.bootstrap;
  if (toBuild.length === 0 || !bootstrap) return;
  const index = cache.tempDerived('mirror-index', 'tsv');
  let output = '';
  try {
    await executor.exec([ROOTFS_TOOL, 'mirror-index', index, plan.system.architecture, bootstrap.suite, bootstrap.components.join(','), session.mirror ?? bootstrap.mirror ?? ''], {
      output: (chunk) => (output += chunk.toString()),
    });
    const drift = mirrorDrift(locked, toBuild, parseMirrorIndex(await readFile(index, 'utf8')));
    if (drift.length) refuseDrift(`the mirror now offers other versions than ${LOCK_FILE} holds for the layers to build (${toBuild.join(', ')})`, drift, session.project.dir);
  } catch (err) {
    if (err instanceof ExecFailed) {
      throw new UserError(`--locked: could not read the mirror's package index (${bootstrap.suite}, ${plan.system.architecture}):\n${output.trim().split('\n').slice(-5).join('\n')}`);
    }
    throw err;
  } finally {
    await rm(index, { force: true });
  }
}

/** Builds (or finds up to date) the system's image; `bundle` and `test` start from it too. */
export async function buildImage(session: BuildSession, systemName: string): Promise<BuiltImage> {
  const { project } = session;
  const { system, target } = findSystem(project, systemName);
  const { rauc } = await preflight(session, system, target);
  const cache = new LayerCache(project.cacheDir);
  await cache.init();
  const executor = await openWorker(session);
  const secrets = rauc ? { keyring: await keyringForBuild(project, system, executor, session.env, session.note) } : {};
  const plan = await planSystem(project, systemName, { toolsId: executor.toolsId, mirror: session.mirror }, secrets);
  const results = new Map<string, LayerResult>();
  const logs = new LogDir(path.join(buildDir(project), systemName, 'logs'));
  const env = { project, executor, cache, logs, mirror: session.mirror, system: systemName };
  const image: Partial<ImageBuild> = {};
  let imageStarted = 0;
  const locked = session.locked ? await lockedSystem(project.dir, systemName) : undefined;
  if (locked) await refuseMirrorDrift(session, executor, cache, plan, locked);
  try {
    await session.runTasks([
      ...layerTasks(env, plan.layers, results),
      ...(locked
        ? [{
            title: `packages match ${LOCK_FILE}`,
            run: async () => {
              const drift = lockMismatches(locked, await systemPackages(cache, plan.layers));
              if (drift.length) refuseDrift(`the built layers hold other packages than ${LOCK_FILE}`, drift, project.dir);
            },
          }]
        : []),
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
  // Every build records what it installed; a locked one was checked against it instead.
  if (!locked && image.info) {
    await writeLockEntry(project.dir, cache, systemName, lockEntry(system.architecture, plan.layers.map((l) => l.name), image.info.packages));
  }
  await enforceCacheCap(project, cache, snapshotKeys(plan.layers), session.env);
  return {
    ...(image as ImageBuild),
    imageSeconds,
    layers: plan.layers.map((p) => ({ layer: p.name, key: p.key, status: results.get(p.key)!.status, snapshots: results.get(p.key)!.snapshots })),
  };
}
