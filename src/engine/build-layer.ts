/**
 * Executing a layer plan: each snapshot of each layer (bootstrap, recipe, finish) is used from
 * the cache or built in the worker — mounted as an overlay over the snapshots below it, the
 * step run in the merged root, the overlay's upper directory committed as the snapshot.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Project } from '../config/project.js';
import { StepError, UserError } from '../errors.js';
import { ExecFailed, type Executor } from '../executor/executor.js';
import { parseManifest, recordFiles } from '../sbom/files.js';
import { inheritChecksums, parseInventory, readPackages, recordPackages } from '../sbom/packages.js';
import { onCleanup } from '../util/cleanup.js';
import type { CacheEntry, LayerCache } from './cache.js';
import { tailOf, type LogDir } from './logs.js';
import type { LayerPlan, SnapshotPlan } from './plan.js';
import { ROOTFS_TOOL, stepArgv, stepEnv, stepTitle, type StepContext } from './steps.js';
import type { Task, TaskContext } from './tasks.js';

export interface LayerBuildEnv {
  project: Project;
  executor: Executor;
  cache: LayerCache;
  logs: LogDir;
  mirror?: string;
  /** Names the system in error messages, when building for one. */
  system?: string;
}

export interface SnapshotResult {
  step: string;
  key: string;
  status: 'hit' | 'built';
  seconds: number;
}

export interface LayerResult {
  plan: LayerPlan;
  /** The finished layer's snapshot. */
  entry: CacheEntry;
  /** Its root filesystem: the snapshot directories to mount, top first. */
  lowers: string[];
  status: 'hit' | 'built';
  /** Every snapshot of the layer, in order: what this build reused and what it made. */
  snapshots: SnapshotResult[];
}

/** Runs one worker command as a logged step; failures name where and show the log's tail. */
export async function runStep(env: LayerBuildEnv, ctx: TaskContext, where: string[], argv: string[], vars: Record<string, string>): Promise<void> {
  await captureStep(env, ctx, where, argv, vars);
}

/** runStep, returning the command's output (its first 64 KiB). */
export async function captureStep(env: LayerBuildEnv, ctx: TaskContext, where: string[], argv: string[], vars: Record<string, string>): Promise<string> {
  const log = await env.logs.open(where.slice(env.system ? 1 : 0).join('-'));
  log.stream.write(`# ${where.join(' › ')}\n# ${argv.join(' ')}\n`);
  let output = '';
  try {
    await env.executor.exec(argv, {
      env: vars,
      output: (chunk) => {
        log.stream.write(chunk);
        ctx.output(chunk);
        if (output.length < 65536) output += chunk.toString();
      },
    });
  } catch (err) {
    await log.close();
    if (err instanceof ExecFailed) throw new StepError(where, err.exitCode, log.file, await tailOf(log.file));
    throw err;
  }
  await log.close();
  return output;
}

/** Every snapshot key of the chain: what a build must keep in the cache. */
export function snapshotKeys(plans: LayerPlan[]): Set<string> {
  return new Set(plans.flatMap((p) => p.snapshots.map((s) => s.key)));
}

/** Tasks that make every layer of `plans` available; results are filled in as they finish. */
export function layerTasks(env: LayerBuildEnv, plans: LayerPlan[], results: Map<string, LayerResult>): Task[] {
  return plans.map((plan, index) => ({
    title: `layer ${plan.name} (${plan.architecture})`,
    run: async (ctx) => {
      const below = index > 0 ? results.get(plans[index - 1]!.key) : undefined;
      const lowersBelow = below?.lowers ?? [];
      const cached = async () => {
        const entries: CacheEntry[] = [];
        for (const s of plan.snapshots) {
          const e = await env.cache.lookup(s.key);
          if (!e) break;
          entries.push(e);
        }
        return entries;
      };
      const finished = (entries: CacheEntry[], snapshots: SnapshotResult[], status: 'hit' | 'built') =>
        results.set(plan.key, { plan, entry: entries.at(-1)!, lowers: [...entries.map((e) => e.dir).reverse(), ...lowersBelow], status, snapshots });
      const reused = (entries: CacheEntry[]) => entries.map((e): SnapshotResult => ({ step: e.step, key: e.key, status: 'hit', seconds: 0 }));

      let have = await cached();
      if (have.length === plan.snapshots.length) {
        finished(have, reused(have), 'hit');
        ctx.reuse(`cached ${plan.key.slice(0, 12)}`);
        return;
      }
      const unlock = onCleanup(await env.cache.lock(plan.key, () => ctx.output('waiting for another build of this layer\n')));
      have = await cached();
      if (have.length === plan.snapshots.length) {
        await unlock();
        finished(have, reused(have), 'hit');
        ctx.reuse(`cached ${plan.key.slice(0, 12)} (built meanwhile by another process)`);
        return;
      }
      // Work trees of builds that died (power loss, kill -9) are removed before building anew.
      for (const stale of await env.cache.staleWorkTrees()) await env.executor.exec([ROOTFS_TOOL, 'remove', stale]).catch(() => undefined);
      const entries = [...have];
      const done = reused(have);
      const tasks: Task[] = [];
      if (have.length) {
        tasks.push({ title: `reuse ${have.map((e) => e.step.replace(/^recipe /, '')).join(', ')}`, run: async (c) => c.reuse('cached') });
      }
      for (const snapshot of plan.snapshots.slice(have.length)) {
        tasks.push({
          title: snapshot.step,
          run: (c) =>
            buildSnapshot(env, c, plan, snapshot, [...entries.map((e) => e.dir).reverse(), ...lowersBelow], (entry, seconds) => {
              entries.push(entry);
              done.push({ step: snapshot.step, key: snapshot.key, status: 'built', seconds });
            }),
        });
      }
      tasks.push({
        title: 'done',
        run: async () => {
          finished(entries, done, 'built');
          await unlock();
        },
      });
      return tasks;
    },
  }));
}

/** Builds one snapshot in a fresh work tree; subtasks are the step's recipe steps. */
async function buildSnapshot(
  env: LayerBuildEnv,
  ctx: TaskContext,
  plan: LayerPlan,
  snapshot: SnapshotPlan,
  lowers: string[],
  committed: (entry: CacheEntry, seconds: number) => void,
): Promise<Task[]> {
  const started = Date.now();
  const workDir = env.cache.workPath(snapshot.key);
  const rootfs = path.join(workDir, 'rootfs');
  const upper = path.join(workDir, 'upper');
  const cleanup = onCleanup(async () => {
    // Stop what still runs in the work tree before removing it (Ctrl-C mid-step).
    await env.executor.interrupt();
    await env.executor.exec([ROOTFS_TOOL, 'remove', workDir]).catch(() => undefined);
  });
  const stepCtx: StepContext = { project: env.project, plan, rootfs, debCache: env.cache.debsDir, mirror: env.mirror };
  const baseEnv = stepEnv(stepCtx);
  const where = (...rest: string[]) => [...(env.system ? [env.system] : []), plan.name, ...rest];
  // Logs and errors name the snapshot: `layer › recipe › unmount`, `layer › finish › measure`.
  const label = snapshot.recipe?.recipe.name ?? snapshot.step;
  const run = (c: TaskContext, name: string, argv: string[], vars = baseEnv) => captureStep(env, c, name === label ? where(name) : where(label, name), argv, vars);

  if (snapshot.step === 'bootstrap') {
    const b = plan.bootstrap!;
    await run(ctx, 'bootstrap', [ROOTFS_TOOL, 'bootstrap', upper, b.suite, b.variant, b.components.join(','), b.packages.join(','), plan.architecture, b.mirror ?? '']);
    await seal(undefined);
    return [];
  }
  if (lowers.length === 0) throw new UserError(`layer ${plan.name}: it has neither a bootstrap nor a parent`);
  await run(ctx, 'overlay', [ROOTFS_TOOL, 'overlay', rootfs, upper, ...lowers]);

  async function seal(contentBytes: number | undefined) {
    await run(ctx, 'unmount', [ROOTFS_TOOL, 'unmount', rootfs]);
    const manifest = path.join(workDir, 'files.manifest');
    await run(ctx, 'seal', [ROOTFS_TOOL, 'seal', upper, manifest]);
    // The snapshot's own files, recorded once (a cached snapshot is never read again).
    await recordFiles(env.cache, snapshot.key, parseManifest(await readFile(manifest), await readFile(`${manifest}.sha256`)));
    const entry = await env.cache.commit(
      { key: snapshot.key, layer: plan.name, step: snapshot.step, architecture: plan.architecture, parentKey: plan.parentKey, contentBytes, buildSeconds: (Date.now() - started) / 1000 },
      upper,
    );
    await cleanup();
    committed(entry, (Date.now() - started) / 1000);
  }

  if (snapshot.step === 'initramfs') {
    await run(ctx, 'initramfs', [ROOTFS_TOOL, 'initramfs', rootfs]);
    await seal(undefined);
    return [];
  }
  if (snapshot.step === 'finish') {
    // The package record first: `finish` drops apt's lists, which know each .deb's checksum.
    const inventory = path.join(workDir, 'packages.tsv');
    await run(ctx, 'inventory', [ROOTFS_TOOL, 'inventory', rootfs, inventory]);
    const below = plan.parentKey ? ((await readPackages(env.cache, plan.parentKey)) ?? []) : [];
    const packages = inheritChecksums(parseInventory(await readFile(inventory, 'utf8')), below);
    await run(ctx, 'finish', [ROOTFS_TOOL, 'finish', rootfs]);
    const measured = /content-bytes (\d+)/.exec(await run(ctx, 'measure', [ROOTFS_TOOL, 'measure', rootfs]));
    // Recorded before the snapshot is committed: a layer in the cache always has its record.
    await recordPackages(env.cache, snapshot.key, packages);
    await seal(measured ? Number(measured[1]) : undefined);
    return [];
  }
  const app = snapshot.recipe!;
  return [
    ...app.recipe.config.steps.map((step, i) => ({
      title: stepTitle(step),
      run: async (c: TaskContext) => {
        await runStep(env, c, where(app.recipe.name, `step ${i + 1} (${stepTitle(step)})`), stepArgv(step, app, rootfs), stepEnv(stepCtx, app));
      },
    })),
    { title: 'snapshot', run: () => seal(undefined) },
  ];
}
