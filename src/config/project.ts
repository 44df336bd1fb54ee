/**
 * Loading a project: systems.toml, layers, recipes and targets from the project directory and
 * the built-in ones shipped with bakery (the project's shadow built-ins of the same name).
 * Parse → schema → semantic rules; all problems are collected and reported together.
 */
import { existsSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { ConfigError, UserError, type Diagnostic } from '../errors.js';
import { displayPath } from '../util/paths.js';
import { checkProject } from './rules.js';
import { LayerFile, RecipeFile, SystemsFile, type SystemEntry } from './schema.js';
import { TargetFile, type Target } from './target.js';
import { readConfig } from './read-config.js';
import { withLines } from './toml.js';

export type Origin = 'project' | 'builtin';

export interface Recipe {
  name: string;
  dir: string;
  file: string;
  origin: Origin;
  config: RecipeFile;
}

export interface Layer {
  name: string;
  file: string;
  origin: Origin;
  config: LayerFile;
}

export interface System extends SystemEntry {
  name: string;
}

export interface Project {
  dir: string;
  builtinDir: string;
  systemsFile: string;
  settings: SystemsFile;
  systems: Map<string, System>;
  layers: Map<string, Layer>;
  recipes: Map<string, Recipe>;
  targets: Map<string, Target>;
  sourceDateEpoch: number;
  cacheDir: string;
  /**
   * Problems of single systems, layers, recipes or targets (each with its `owner`): they fail
   * the commands that use them (`assertUsable`), not the others. Problems of the project as a
   * whole fail loading.
   */
  problems: Diagnostic[];
}

/** 2025-01-01T00:00:00Z: the default timestamp of every file in a reproducible build. */
export const DEFAULT_SOURCE_DATE_EPOCH = 1735689600;

export async function loadProject(projectDir: string, builtinDir: string, env: NodeJS.ProcessEnv = process.env): Promise<Project> {
  const dir = path.resolve(projectDir);
  if (!existsSync(dir)) throw new UserError(`project directory ${dir} does not exist`, 'pass an existing directory with --project');
  if (!(await stat(dir)).isDirectory()) throw new UserError(`--project ${dir} is a file, not a project directory`, 'pass the directory that holds systems.toml, layers/ and recipes/');
  const diagnostics: Diagnostic[] = [];
  const systemsFile = path.join(dir, 'systems.toml');
  let settings: SystemsFile = SystemsFile.parse({});
  if (existsSync(systemsFile)) settings = (await readConfig(systemsFile, SystemsFile, diagnostics)) ?? settings;

  // A layer, recipe or target whose file does not validate is left out, its problems kept.
  const broken = new Set<string>();
  const read = async <S extends Parameters<typeof readConfig>[1]>(owner: string, file: string, schema: S) => {
    const own: Diagnostic[] = [];
    const config = await readConfig(file, schema, own);
    if (!config) broken.add(owner);
    diagnostics.push(...own.map((d) => ({ ...d, owner })));
    return config;
  };

  const layers = new Map<string, Layer>();
  for (const { name, file, origin } of await findEntries(dir, builtinDir, 'layers', 'file')) {
    const config = await read(`layer:${name}`, file, LayerFile);
    if (config) layers.set(name, { name, file: displayPath(file), origin, config });
  }

  const recipes = new Map<string, Recipe>();
  for (const { name, file, origin } of await findEntries(dir, builtinDir, 'recipes', 'dir')) {
    const recipeFile = path.join(file, 'recipe.toml');
    const config = await read(`recipe:${name}`, recipeFile, RecipeFile);
    if (config) recipes.set(name, { name, dir: file, file: displayPath(recipeFile), origin, config });
  }

  const targets = new Map<string, Target>();
  for (const { name, file, origin } of await findEntries(dir, builtinDir, 'targets', 'file')) {
    const config = await read(`target:${name}`, file, TargetFile);
    if (config) targets.set(name, { name, file: displayPath(file), origin, config });
  }

  const systems = new Map<string, System>();
  for (const [name, entry] of Object.entries(settings.systems)) systems.set(name, { name, ...entry });

  const envEpoch = env.SOURCE_DATE_EPOCH;
  if (envEpoch !== undefined && !/^\d+$/.test(envEpoch)) {
    diagnostics.push({ file: 'environment', path: 'SOURCE_DATE_EPOCH', message: `expected whole seconds since 1970, got ${JSON.stringify(envEpoch)}` });
  }
  const project: Project = {
    dir,
    builtinDir,
    systemsFile: displayPath(systemsFile),
    settings,
    systems,
    layers,
    recipes,
    targets,
    sourceDateEpoch: envEpoch && /^\d+$/.test(envEpoch) ? Number(envEpoch) : (settings['source-date-epoch'] ?? DEFAULT_SOURCE_DATE_EPOCH),
    cacheDir: path.resolve(dir, env.BAKERY_CACHE_DIR || settings.cache.dir || defaultCacheDir(env)),
    problems: [],
  };
  // One pass: schema and semantic problems together, each with its line.
  const all = withLines([...diagnostics, ...checkProject(project, broken)]);
  if (all.some((d) => d.owner === undefined)) throw new ConfigError(all);
  project.problems = all;
  return project;
}

/** What a system or layer is made of: the owners whose problems stop building it. */
function ownersOf(project: Project, what: { system?: string; layer?: string }): Set<string> {
  const owners = new Set<string>();
  const addRecipes = (names: string[]) => {
    for (const name of names) {
      if (owners.has(`recipe:${name}`)) continue;
      owners.add(`recipe:${name}`);
      addRecipes(project.recipes.get(name)?.config.dependencies ?? []);
    }
  };
  const addLayer = (name: string | undefined) => {
    while (name !== undefined && !owners.has(`layer:${name}`)) {
      owners.add(`layer:${name}`);
      const layer = project.layers.get(name);
      addRecipes(layer?.config.recipes ?? []);
      name = layer?.config.parent;
    }
  };
  if (what.system !== undefined) {
    const system = project.systems.get(what.system);
    owners.add(`system:${what.system}`);
    if (system) {
      owners.add(`target:${system.target}`);
      addRecipes(project.targets.get(system.target)?.config.recipes ?? []);
      addLayer(system.layer);
    }
  }
  addLayer(what.layer);
  return owners;
}

/**
 * The problems a user must hear of without building anything: those in the project's own files,
 * and those of built-ins its systems use. A built-in the project made invalid by shadowing one of
 * its recipes, and never uses, stays quiet until something builds it.
 */
export function projectProblems(project: Project): Diagnostic[] {
  const used = new Set<string>();
  for (const system of project.systems.keys()) for (const owner of ownersOf(project, { system })) used.add(owner);
  const inProject = (file: string) => !path.relative(project.dir, path.resolve(file)).startsWith('..');
  return project.problems.filter((d) => inProject(d.file) || (d.owner !== undefined && used.has(d.owner)));
}

/**
 * Fails with every problem of what a command is about to use — a system (its layers, recipes and
 * target) or a layer; problems elsewhere in the project do not stop it.
 */
export function assertUsable(project: Project, what: { system?: string; layer?: string }): void {
  const owners = ownersOf(project, what);
  const problems = project.problems.filter((d) => d.owner !== undefined && owners.has(d.owner));
  if (problems.length) throw new ConfigError(problems);
}

/** Shared by all projects of the user: entries are content-addressed, so sharing is safe. */
function defaultCacheDir(env: NodeJS.ProcessEnv): string {
  return path.join(env.XDG_CACHE_HOME || path.join(env.HOME || homedir(), '.cache'), 'bakery');
}

interface Entry {
  name: string;
  file: string;
  origin: Origin;
}

/** `<kind>/<name>.toml` (or `<kind>/<name>/`) from the project, then built-ins it does not shadow. */
async function findEntries(projectDir: string, builtinDir: string, kind: string, shape: 'file' | 'dir'): Promise<Entry[]> {
  const entries = new Map<string, Entry>();
  const roots: [string, Origin][] = [[projectDir, 'project']];
  if (path.resolve(builtinDir) !== projectDir) roots.push([builtinDir, 'builtin']);
  for (const [root, origin] of roots) {
    const dir = path.join(root, kind);
    if (!existsSync(dir)) continue;
    for (const dirent of await readdir(dir, { withFileTypes: true })) {
      const name = shape === 'file' ? dirent.name.replace(/\.toml$/, '') : dirent.name;
      const fits = shape === 'file' ? dirent.isFile() && dirent.name.endsWith('.toml') : dirent.isDirectory();
      if (fits && !entries.has(name)) entries.set(name, { name, file: path.join(dir, dirent.name), origin });
    }
  }
  return [...entries.values()].sort((a, b) => a.name.localeCompare(b.name));
}
