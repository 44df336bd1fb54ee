/**
 * Planning: from a layer name and an architecture to the chain of layer builds with their cache
 * keys. Pure apart from hashing recipe files; no Docker, no root — `bake --dry-run` prints it.
 */
import { readFile } from 'node:fs/promises';
import { resolveParameters, type ResolvedParameters } from '../config/parameters.js';
import type { Layer, Project, Recipe } from '../config/project.js';
import type { Architecture, Bootstrap } from '../config/schema.js';
import { UserError } from '../errors.js';
import { canonicalJson, hashTree, sha256 } from './hash.js';
import { ROOTFS_TOOL } from './steps.js';

/** Bumped when the way layers are built changes incompatibly. */
export const LAYER_FORMAT = 1;

export interface RecipeApplication {
  recipe: Recipe;
  parameters: ResolvedParameters;
  filesHash: string;
}

export interface LayerPlan {
  /** The layer's name; for a system's own layer, the system's name. */
  name: string;
  architecture: Architecture;
  key: string;
  parentKey?: string;
  bootstrap?: Bootstrap;
  recipes: RecipeApplication[];
  /** Set for a system's own layer (the target's recipes over the system's layer). */
  system?: string;
  sourceDateEpoch: number;
}

export interface PlanOptions {
  /** Identifies the worker's tool set (image tag); part of every key. */
  toolsId: string;
  /** BAKERY_MIRROR: replaces every layer's mirror. Not part of keys: a mirror is transport. */
  mirror?: string;
}

/** A layer that is not a file: a system's target recipes applied over its layer. */
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
  const chain = layerChain(project, layerName).map((l) => ({
    name: l.name,
    bootstrap: l.config.bootstrap,
    recipes: l.config.recipes,
    parameters: l.config.parameters,
    system: undefined as string | undefined,
    explicit: true,
  }));
  // A target's recipes are what every system of it needs: skipped where the layer has them already.
  if (extra) chain.push({ name: extra.name, bootstrap: undefined, recipes: extra.recipes, parameters: extra.parameters, system: extra.system, explicit: false });

  const plans: LayerPlan[] = [];
  const applied = new Set<string>();
  const tools = `${options.toolsId}/${await layerToolHash()}`;
  for (const layer of chain) {
    const recipes: RecipeApplication[] = [];
    for (const name of orderRecipes(project, layer.recipes, applied, layer.explicit)) {
      const recipe = project.recipes.get(name);
      if (!recipe) throw new UserError(`unknown recipe "${name}" in layer "${layer.name}"`);
      const { values, problems } = resolveParameters(recipe.config.parameters, layer.parameters[name] ?? {});
      if (problems.length) throw new UserError(`layer "${layer.name}", recipe "${name}": ${problems.map((p) => p.message).join('; ')}`);
      recipes.push({ recipe, parameters: values, filesHash: await hashTree(recipe.dir) });
      applied.add(name);
    }
    const parentKey = plans.at(-1)?.key;
    const bootstrap = layer.bootstrap && { ...layer.bootstrap, mirror: options.mirror ?? layer.bootstrap.mirror };
    const key = sha256(
      canonicalJson({
        format: LAYER_FORMAT,
        parentKey,
        architecture,
        // The mirror is transport, not content: the same suite from another mirror is the same layer.
        bootstrap: bootstrap && { ...bootstrap, mirror: undefined },
        recipes: recipes.map((r) => ({ name: r.recipe.name, files: r.filesHash, parameters: r.parameters })),
        system: layer.system,
        sourceDateEpoch: project.sourceDateEpoch,
        tools,
      }),
    ).slice(0, 32);
    plans.push({ name: layer.name, architecture, key, parentKey, bootstrap, recipes, system: layer.system, sourceDateEpoch: project.sourceDateEpoch });
  }
  return plans;
}
