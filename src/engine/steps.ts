/** What each recipe step runs, and with which environment. Pure: unit-tested without a worker. */
import path from 'node:path';
import type { Project } from '../config/project.js';
import type { RecipeStep } from '../config/schema.js';
import { BAKERY_HOME } from '../util/paths.js';
import type { LayerPlan, RecipeApplication } from './plan.js';

export const ROOTFS_TOOL = path.join(BAKERY_HOME, 'worker', 'bin', 'rootfs');

export interface StepContext {
  project: Project;
  plan: LayerPlan;
  rootfs: string;
  debCache: string;
  mirror?: string;
}

export function stepTitle(step: RecipeStep): string {
  if (step.description) return step.description;
  if (step.packages) return `packages: ${step.packages.join(' ')}`;
  if (step.chroot) return `chroot ${step.chroot}`;
  if (step.host) return `host ${step.host}`;
  return `files ${step.files}`;
}

export function stepArgv(step: RecipeStep, app: RecipeApplication, rootfs: string): string[] {
  const inRecipe = (rel: string) => path.resolve(app.recipe.dir, rel);
  if (step.packages) return [ROOTFS_TOOL, 'packages', rootfs, step.recommends ? 'yes' : 'no', ...step.packages];
  if (step.chroot) return [ROOTFS_TOOL, 'chroot', rootfs, inRecipe(step.chroot)];
  if (step.host) return [ROOTFS_TOOL, 'host', rootfs, inRecipe(step.host)];
  return [ROOTFS_TOOL, 'files', rootfs, inRecipe(step.files!)];
}

/** The environment every step of a recipe gets (chroot steps see RECIPE_DIR and BAKERY_ROOTFS as mapped inside). */
export function stepEnv(ctx: StepContext, app?: RecipeApplication): Record<string, string> {
  const env: Record<string, string> = {
    BAKERY_ROOTFS: ctx.rootfs,
    BAKERY_ARCH: ctx.plan.architecture,
    BAKERY_LAYER: ctx.plan.name,
    BAKERY_PROJECT_DIR: ctx.project.dir,
    BAKERY_DEB_CACHE: path.join(ctx.debCache, ctx.plan.architecture),
    SOURCE_DATE_EPOCH: String(ctx.plan.sourceDateEpoch),
    DEBIAN_FRONTEND: 'noninteractive',
    LC_ALL: 'C.UTF-8',
  };
  if (ctx.plan.system) env.BAKERY_SYSTEM = ctx.plan.system;
  if (ctx.mirror) env.BAKERY_MIRROR = ctx.mirror;
  if (app) {
    env.RECIPE_DIR = app.recipe.dir;
    env.RECIPE_NAME = app.recipe.name;
    for (const [name, value] of Object.entries(app.parameters)) env[`RECIPE_PARAM_${name.toUpperCase()}`] = value;
  }
  return env;
}
