/**
 * Planning: from a layer name and an architecture to the chain of layer builds with their cache
 * keys. Pure apart from hashing recipe files; no Docker, no root — `bake --dry-run` prints it.
 */
import { readFile } from 'node:fs/promises';
import { resolveParameters, type ResolvedParameters } from '../config/parameters.js';
import { assertUsable, type Layer, type Project, type Recipe } from '../config/project.js';
import type { Architecture, Bootstrap } from '../config/schema.js';
import { UserError } from '../errors.js';
import { canonicalJson, hashTree, sha256 } from './hash.js';
import { ROOTFS_TOOL } from './steps.js';

/** Bumped when the way layers are built changes incompatibly. */
export const LAYER_FORMAT = 2;

export interface RecipeApplication {
  recipe: Recipe;
  parameters: ResolvedParameters;
  filesHash: string;
}

/**
 * One cached step of a layer build: its bootstrap, one recipe applied, a system layer's initramfs
 * (made once, after the platform's recipes), or the finish (build-time helpers removed). Each key covers everything below it, like an image layer: a change to a
 * recipe rebuilds that recipe and what comes after, never the recipes under it.
 */
export interface SnapshotPlan {
  key: string;
  step: string;
  recipe?: RecipeApplication;
}

export interface LayerPlan {
  /** The layer's name; for a system's own layer, the system's name. */
  name: string;
  architecture: Architecture;
  /** The key of the finished layer (its last snapshot). */
  key: string;
  snapshots: SnapshotPlan[];
  parentKey?: string;
  bootstrap?: Bootstrap;
  recipes: RecipeApplication[];
  /** Set for a system's own layer (the target's recipes, then the system layer's own recipes). */
  system?: string;
  sourceDateEpoch: number;
}

export interface PlanOptions {
  /** Identifies the worker's tool set (image tag); part of every key. */
  toolsId: string;
  /** BAKERY_MIRROR: replaces every layer's mirror. Not part of keys: a mirror is transport. */
  mirror?: string;
}

/** A layer that is not a file: a system's target recipes applied with its layer's own recipes. */
export interface SyntheticLayer {
  name: string;
  recipes: string[];
  parameters: Record<string, Record<string, string | number | boolean>>;
  system: string;
}

/** The tool that runs layer steps is part of every key: a change to how steps run rebuilds. */
async function layerToolHash(): Promise<string> {
  return sha256(await readFile(ROOTFS_TOOL));
}

/**
 * Recipes in application order: each recipe's dependencies first (depth first, in the order
 * they are listed), then the recipe; each once. Dependencies already applied by an ancestor
 * layer are not applied again; recipes listed explicitly always are.
 */
export function orderRecipes(project: Project, listed: string[], appliedBelow: Set<string>, listedAreExplicit = true): string[] {
  const order: string[] = [];
  const visiting = new Set<string>();
  const visit = (name: string, explicit: boolean) => {
    if (order.includes(name) || (!explicit && appliedBelow.has(name))) return;
    if (visiting.has(name)) throw new UserError(`recipe dependencies form a cycle through "${name}"`);
    visiting.add(name);
    for (const dep of project.recipes.get(name)?.config.dependencies ?? []) visit(dep, false);
    visiting.delete(name);
    order.push(name);
  };
  for (const name of listed) visit(name, listedAreExplicit);
  return order;
}

function layerChain(project: Project, name: string): Layer[] {
  assertUsable(project, { layer: name });
  const chain: Layer[] = [];
  let current: string | undefined = name;
  while (current !== undefined) {
    const layer = project.layers.get(current);
    if (!layer) throw new UserError(`unknown layer "${current}"`, `layers: ${[...project.layers.keys()].join(', ')}`);
    if (chain.includes(layer)) throw new UserError(`layers form a cycle through "${current}"`);
    chain.unshift(layer);
    current = layer.config.parent;
  }
  return chain;
}

/** The builds that make `layerName` for `architecture`, root first; the last one is the layer. */
export async function planLayer(
  project: Project,
  layerName: string,
  architecture: Architecture,
  options: PlanOptions,
  extra?: SyntheticLayer,
): Promise<LayerPlan[]> {
  type Group = { recipes: string[]; parameters: Record<string, Record<string, string | number | boolean>>; explicit: boolean; skip?: Set<string> };
  const chain = layerChain(project, layerName).map((l) => ({
    name: l.name,
    bootstrap: l.config.bootstrap,
    groups: [{ recipes: l.config.recipes, parameters: l.config.parameters, explicit: true }] as Group[],
    system: undefined as string | undefined,
  }));
  if (extra) {
    // A system's own layer replaces its layer's top: the target's recipes (the platform: kernel,
    // boot, updates; skipped where an ancestor has them) first, then the layer's own recipes. A
    // change to a product recipe then redoes that recipe and those after it, never the platform.
    const top = chain.pop()!;
    const [own] = top.groups;
    const parameters = { ...own!.parameters };
    for (const [recipe, values] of Object.entries(extra.parameters)) parameters[recipe] = { ...parameters[recipe], ...values };
    const platform: Group = { recipes: extra.recipes, explicit: false, parameters };
    // The system's parameters reach the layer's own recipes too: they are applied per system.
    chain.push({ name: extra.name, bootstrap: top.bootstrap, system: extra.system, groups: [platform, { ...own!, parameters, skip: new Set(extra.recipes) }] });
  }

  const plans: LayerPlan[] = [];
  const applied = new Set<string>();
  const tools = `${options.toolsId}/${await layerToolHash()}`;
  for (const layer of chain) {
    const recipes: RecipeApplication[] = [];
    let platformCount = 0;
    for (const group of layer.groups) {
      const listed = group.recipes.filter((name) => !group.skip?.has(name));
      for (const name of orderRecipes(project, listed, applied, group.explicit)) {
        const recipe = project.recipes.get(name);
        if (!recipe) throw new UserError(`unknown recipe "${name}" in layer "${layer.name}"`);
        const { values, problems } = resolveParameters(recipe.config.parameters, group.parameters[name] ?? {});
        if (problems.length) throw new UserError(`layer "${layer.name}", recipe "${name}": ${problems.map((p) => p.message).join('; ')}`);
        recipes.push({ recipe, parameters: values, filesHash: await hashTree(recipe.dir) });
        applied.add(name);
      }
      if (group === layer.groups[0]) platformCount = recipes.length;
    }
    const parentKey = plans.at(-1)?.key;
    const bootstrap = layer.bootstrap && { ...layer.bootstrap, mirror: options.mirror ?? layer.bootstrap.mirror };
    // What every step's result depends on besides its own input. The mirror is transport, not
    // content: the same suite from another mirror is the same layer.
    const common = { format: LAYER_FORMAT, architecture, layer: layer.name, system: layer.system, sourceDateEpoch: project.sourceDateEpoch, tools };
    const snapshots: SnapshotPlan[] = [];
    let below = parentKey;
    const add = (step: string, input: unknown, recipe?: RecipeApplication) => {
      below = sha256(canonicalJson({ ...common, below, step, input })).slice(0, 32);
      snapshots.push({ key: below, step, recipe });
    };
    if (bootstrap) add('bootstrap', { ...bootstrap, mirror: undefined });
    recipes.forEach((r, i) => {
      // A system layer makes its initramfs once, after the platform (kernel, hooks) and before the
      // product: an edit to a product recipe does not make it again. Elsewhere the finish does.
      if (layer.system && i === platformCount) add('initramfs', null);
      add(`recipe ${r.recipe.name}`, { files: r.filesHash, parameters: r.parameters }, r);
    });
    if (layer.system && platformCount === recipes.length) add('initramfs', null);
    add('finish', null);
    plans.push({ name: layer.name, architecture, key: below!, snapshots, parentKey, bootstrap, recipes, system: layer.system, sourceDateEpoch: project.sourceDateEpoch });
  }
  return plans;
}
