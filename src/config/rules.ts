/** Semantic rules that a schema cannot express: references, cycles, parameters, files. */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Diagnostic } from '../errors.js';
import { resolveParameters } from './parameters.js';
import type { Project } from './project.js';
import { suggest } from './validate.js';

/**
 * Every semantic problem of the project, each owned by the system, layer, recipe or target it is
 * in. `broken` names (`layer:app`) the entries whose files did not validate: a reference to one is
 * not "unknown" — the entry's own problems say what is wrong with it.
 */
export function checkProject(project: Project, broken: ReadonlySet<string> = new Set()): Diagnostic[] {
  const known = (kind: 'layer' | 'recipe' | 'target', name: string) =>
    broken.has(`${kind}:${name}`) || (kind === 'layer' ? project.layers : kind === 'recipe' ? project.recipes : project.targets).has(name);
  return [...checkSystems(project, known), ...checkLayers(project, known), ...checkRecipes(project, known), ...checkTargets(project, known)];
}

type Known = (kind: 'layer' | 'recipe' | 'target', name: string) => boolean;

function unknown(kind: string, name: string, known: Iterable<string>): { message: string; hint?: string } {
  const names = [...known];
  return {
    message: `unknown ${kind} "${name}"`,
    hint: suggest(name, names)?.replace(/`/g, '"') ?? (names.length ? `known: ${names.join(', ')}` : `there are no ${kind}s`),
  };
}

function checkSystems(project: Project, known: Known): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const system of project.systems.values()) {
    const at = (key: string) => ({ file: project.systemsFile, path: `systems.${system.name}.${key}`, owner: `system:${system.name}` });
    if (!known('layer', system.layer)) out.push({ ...at('layer'), ...unknown('layer', system.layer, project.layers.keys()) });
    const target = project.targets.get(system.target);
    if (!target && !known('target', system.target)) out.push({ ...at('target'), ...unknown('target', system.target, project.targets.keys()) });
    if (target) {
      if (!target.config.architectures.includes(system.architecture)) {
        out.push({
          ...at('architecture'),
          message: `target "${target.name}" does not support architecture ${system.architecture}`,
          hint: `it supports ${target.config.architectures.join(', ')}`,
        });
      }
      const closure = recipeClosure(project, target.config.recipes);
      for (const [recipeName, values] of Object.entries(system.parameters)) {
        const recipe = project.recipes.get(recipeName);
        if (!recipe && known('recipe', recipeName)) continue;
        if (!recipe || !closure.has(recipeName)) {
          out.push({ ...at(`parameters.${recipeName}`), message: `target "${target.name}" applies no recipe "${recipeName}"`, hint: `its recipes: ${[...closure].join(', ')}` });
          continue;
        }
        for (const p of resolveParameters(recipe.config.parameters, values).problems) out.push({ ...at(`parameters.${recipeName}.${p.name}`), message: p.message });
      }
      for (const blob of target.config.raw) {
        const given = system.inputs[blob.input];
        if (given === undefined) {
          out.push({ ...at(`inputs.${blob.input}`), message: `target "${target.name}" needs the input "${blob.input}": ${blob.description ?? blob.name}`, hint: `set [systems.${system.name}.inputs] ${blob.input} = "path/to/file"` });
        } else if (!existsSync(path.resolve(project.dir, given))) {
          out.push({ ...at(`inputs.${blob.input}`), message: `file "${given}" not found` });
        } else if (statSync(path.resolve(project.dir, given)).size > blob['max-size']) {
          out.push({ ...at(`inputs.${blob.input}`), message: `"${given}" is ${statSync(path.resolve(project.dir, given)).size} bytes; the area at offset ${blob.offset} holds ${blob['max-size']}` });
        }
      }
      for (const name of Object.keys(system.inputs)) {
        if (!target.config.raw.some((b) => b.input === name)) out.push({ ...at(`inputs.${name}`), message: `target "${target.name}" takes no input "${name}"` });
      }
    }
  }
  return out;
}

function checkLayers(project: Project, known: Known): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const layer of project.layers.values()) {
    const at = (key: string) => ({ file: layer.file, path: key, owner: `layer:${layer.name}` });
    const { parent } = layer.config;
    if (parent !== undefined && !known('layer', parent)) out.push({ ...at('parent'), ...unknown('layer', parent, project.layers.keys()) });
    const cycle = parentCycle(project, layer.name);
    if (cycle) out.push({ ...at('parent'), message: `layers form a cycle: ${cycle.join(' → ')}` });
    layer.config.recipes.forEach((name, i) => {
      if (!known('recipe', name)) out.push({ ...at(`recipes.${i}`), ...unknown('recipe', name, project.recipes.keys()) });
    });
    const closure = recipeClosure(project, layer.config.recipes);
    for (const [recipeName, values] of Object.entries(layer.config.parameters)) {
      const recipe = project.recipes.get(recipeName);
      if (!recipe && known('recipe', recipeName)) continue;
      if (!recipe || !closure.has(recipeName)) {
        out.push({
          ...at(`parameters.${recipeName}`),
          message: `parameters for recipe "${recipeName}", which this layer does not apply`,
          hint: `add it to \`recipes\` or remove [parameters.${recipeName}]`,
        });
        continue;
      }
      for (const p of resolveParameters(recipe.config.parameters, values).problems) {
        out.push({ ...at(`parameters.${recipeName}.${p.name}`), message: p.message });
      }
    }
    for (const recipeName of closure) {
      const recipe = project.recipes.get(recipeName);
      if (!recipe || layer.config.parameters[recipeName]) continue;
      for (const p of resolveParameters(recipe.config.parameters, {}).problems) {
        out.push({ ...at(`parameters.${recipeName}.${p.name}`), message: p.message, hint: `set it under [parameters.${recipeName}]` });
      }
    }
  }
  return out;
}

function parentCycle(project: Project, start: string): string[] | undefined {
  const seen: string[] = [];
  let current: string | undefined = start;
  while (current !== undefined) {
    if (seen.includes(current)) return seen[0] === current ? [...seen, current] : undefined;
    seen.push(current);
    current = project.layers.get(current)?.config.parent;
  }
  return undefined;
}

/** The recipes a list pulls in, dependencies included (unknown names skipped). */
export function recipeClosure(project: Project, names: string[]): Set<string> {
  const out = new Set<string>();
  const visit = (name: string) => {
    if (out.has(name)) return;
    const recipe = project.recipes.get(name);
    if (!recipe) return;
    out.add(name);
    recipe.config.dependencies.forEach(visit);
  };
  names.forEach(visit);
  return out;
}

function checkRecipes(project: Project, known: Known): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const recipe of project.recipes.values()) {
    const at = (key: string) => ({ file: recipe.file, path: key, owner: `recipe:${recipe.name}` });
    recipe.config.dependencies.forEach((dep, i) => {
      if (!known('recipe', dep)) out.push({ ...at(`dependencies.${i}`), ...unknown('recipe', dep, project.recipes.keys()) });
    });
    const cycle = dependencyCycle(project, recipe.name, []);
    if (cycle && cycle[0] === recipe.name) out.push({ ...at('dependencies'), message: `recipe dependencies form a cycle: ${cycle.join(' → ')}` });
    recipe.config.steps.forEach((step, i) => {
      for (const kind of ['chroot', 'host', 'files'] as const) {
        const rel = step[kind];
        if (rel === undefined) continue;
        const file = path.resolve(recipe.dir, rel);
        const wantDir = kind === 'files';
        if (!file.startsWith(recipe.dir + path.sep)) {
          out.push({ ...at(`steps.${i}.${kind}`), message: `"${rel}" points outside the recipe directory` });
        } else if (!existsSync(file)) {
          out.push({ ...at(`steps.${i}.${kind}`), message: `${wantDir ? 'directory' : 'script'} "${rel}" not found in ${path.relative(process.cwd(), recipe.dir) || '.'}` });
        } else if (statSync(file).isDirectory() !== wantDir) {
          out.push({ ...at(`steps.${i}.${kind}`), message: wantDir ? `"${rel}" is a file; \`files\` names a directory whose tree is copied into the root` : `"${rel}" is a directory; \`${kind}\` names a script` });
        }
      }
    });
  }
  return out;
}

function dependencyCycle(project: Project, name: string, stack: string[]): string[] | undefined {
  if (stack.includes(name)) return [...stack.slice(stack.indexOf(name)), name];
  for (const dep of project.recipes.get(name)?.config.dependencies ?? []) {
    const cycle = dependencyCycle(project, dep, [...stack, name]);
    if (cycle) return cycle;
  }
  return undefined;
}

function checkTargets(project: Project, known: Known): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const target of project.targets.values()) {
    const owner = `target:${target.name}`;
    target.config.recipes.forEach((name, i) => {
      if (!known('recipe', name)) out.push({ file: target.file, path: `recipes.${i}`, owner, ...unknown('recipe', name, project.recipes.keys()) });
    });
    const closure = recipeClosure(project, target.config.recipes);
    for (const [recipeName, values] of Object.entries(target.config.parameters)) {
      const recipe = project.recipes.get(recipeName);
      const at = { file: target.file, path: `parameters.${recipeName}`, owner };
      if (!recipe && known('recipe', recipeName)) continue;
      if (!recipe || !closure.has(recipeName)) {
        out.push({ ...at, message: `parameters for recipe "${recipeName}", which this target does not apply`, hint: `its recipes: ${[...closure].join(', ')}` });
        continue;
      }
      for (const p of resolveParameters(recipe.config.parameters, values).problems) out.push({ ...at, path: `${at.path}.${p.name}`, message: p.message });
    }
  }
  return out;
}
