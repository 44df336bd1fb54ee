/**
 * Executing a layer plan: for each layer, use the cache entry or build it in the worker —
 * bootstrap (or unpack the parent), apply recipes step by step, pack, commit to the cache.
 */
import path from 'node:path';
import type { Project } from '../config/project.js';
import { StepError, UserError } from '../errors.js';
import { ExecFailed, type Executor } from '../executor/executor.js';
import { onCleanup } from '../util/cleanup.js';
import type { CacheEntry, LayerCache } from './cache.js';
import { tailOf, type LogDir } from './logs.js';
import type { LayerPlan } from './plan.js';
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

export interface LayerResult {
  plan: LayerPlan;
  entry: CacheEntry;
  status: 'hit' | 'built';
}

/** Runs one worker command as a logged step; failures name where and show the log's tail. */
export async function runStep(env: LayerBuildEnv, ctx: TaskContext, where: string[], argv: string[], vars: Record<string, string>): Promise<void> {
  const log = await env.logs.open(where.slice(env.system ? 1 : 0).join('-'));
  log.stream.write(`# ${where.join(' › ')}\n# ${argv.join(' ')}\n`);
  try {
    await env.executor.exec(argv, {
      env: vars,
      output: (chunk) => {
        log.stream.write(chunk);
        ctx.output(chunk);
      },
    });
  } catch (err) {
    await log.close();
    if (err instanceof ExecFailed) throw new StepError(where, err.exitCode, log.file, await tailOf(log.file));
    throw err;
  }
  await log.close();
}

/** Tasks that make every layer of `plans` available; results are filled in as they finish. */
export function layerTasks(env: LayerBuildEnv, plans: LayerPlan[], results: Map<string, LayerResult>): Task[] {
  return plans.map((plan, index) => ({
    title: `layer ${plan.name} (${plan.architecture})`,
    run: async (ctx) => {
      const hit = await env.cache.lookup(plan.key);
      if (hit) {
        results.set(plan.key, { plan, entry: hit, status: 'hit' });
        ctx.reuse(`cached ${plan.key.slice(0, 12)}`);
        return;
      }
      const release = await env.cache.lock(plan.key, () => ctx.output('waiting for another build of this layer\n'));
      const workDir = env.cache.workPath(plan.key);
      const rootfs = path.join(workDir, 'rootfs');
      const tempTar = env.cache.tempTar(plan.key);
      const cleanup = onCleanup(async () => {
        // Stop what still runs in the work tree before removing it (Ctrl-C mid-step).
        await env.executor.interrupt();
        await env.executor.exec([ROOTFS_TOOL, 'remove', workDir]).catch(() => undefined);
        await env.executor.exec(['rm', '-f', tempTar]).catch(() => undefined);
        await release();
      });
      const again = await env.cache.lookup(plan.key);
      if (again) {
        await cleanup();
        results.set(plan.key, { plan, entry: again, status: 'hit' });
        ctx.reuse(`cached ${plan.key.slice(0, 12)} (built meanwhile by another process)`);
        return;
      }
      // Work trees of builds that died (power loss, kill -9) are removed before building anew.
      for (const stale of await env.cache.staleWorkTrees()) await env.executor.exec([ROOTFS_TOOL, 'remove', stale]).catch(() => undefined);
      const started = Date.now();
      const parent = index > 0 ? results.get(plans[index - 1]!.key) : undefined;
      return buildTasks(env, plan, { rootfs, tempTar, parentTar: parent?.entry.tar }, async () => {
        const entry = await env.cache.commit(
          { key: plan.key, layer: plan.name, architecture: plan.architecture, parentKey: plan.parentKey, buildSeconds: (Date.now() - started) / 1000 },
          tempTar,
        );
        results.set(plan.key, { plan, entry, status: 'built' });
        await cleanup();
      });
    },
  }));
}

function buildTasks(
  env: LayerBuildEnv,
  plan: LayerPlan,
  paths: { rootfs: string; tempTar: string; parentTar?: string },
  commit: () => Promise<void>,
): Task[] {
  const stepCtx: StepContext = { project: env.project, plan, rootfs: paths.rootfs, debCache: env.cache.debsDir, mirror: env.mirror };
  const where = (...rest: string[]) => [...(env.system ? [env.system] : []), plan.name, ...rest];
  const baseEnv = stepEnv(stepCtx);
  const tasks: Task[] = [];
  const { bootstrap } = plan;
  if (bootstrap) {
    tasks.push({
      title: `bootstrap ${bootstrap.suite} (${bootstrap.variant})`,
      run: (ctx) =>
        runStep(
          env,
          ctx,
          where('bootstrap'),
          [
            ROOTFS_TOOL,
            'bootstrap',
            paths.rootfs,
            bootstrap.suite,
            bootstrap.variant,
            bootstrap.components.join(','),
            bootstrap.packages.join(','),
            plan.architecture,
            bootstrap.mirror ?? '',
          ],
          baseEnv,
        ),
    });
  } else {
    tasks.push({
      title: 'unpack parent layer',
      run: async (ctx) => {
        if (!paths.parentTar) throw new UserError(`layer ${plan.name}: its parent was not built`);
        await runStep(env, ctx, where('unpack'), [ROOTFS_TOOL, 'unpack', paths.parentTar, paths.rootfs], baseEnv);
      },
    });
  }
  for (const app of plan.recipes) {
    tasks.push({
      title: `recipe ${app.recipe.name}`,
      run: async () =>
        app.recipe.config.steps.map((step, i) => ({
          title: stepTitle(step),
          run: (ctx: TaskContext) =>
            runStep(env, ctx, where(app.recipe.name, `step ${i + 1} (${stepTitle(step)})`), stepArgv(step, app, paths.rootfs), stepEnv(stepCtx, app)),
        })),
    });
  }
  tasks.push({
    title: 'pack',
    run: async (ctx) => {
      await runStep(env, ctx, where('finish'), [ROOTFS_TOOL, 'finish', paths.rootfs], baseEnv);
      await runStep(env, ctx, where('pack'), [ROOTFS_TOOL, 'pack', paths.rootfs, paths.tempTar], baseEnv);
      await commit();
    },
  });
  return tasks;
}
