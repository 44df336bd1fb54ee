import { chmod, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadProject } from '../../src/config/project.js';
import { hashTree } from '../../src/engine/hash.js';
import { orderRecipes, planLayer } from '../../src/engine/plan.js';
import { stepArgv, stepEnv } from '../../src/engine/steps.js';
import { BUILTIN_DIR } from '../../src/util/paths.js';
import { tempProject } from '../helpers.js';

const recipe = (deps: string[] = [], extra = '') => `description = "x"\ndependencies = ${JSON.stringify(deps)}\n${extra}\n[[steps]]\nchroot = "steps/s.sh"\n`;

async function fixture(overrides: Record<string, string> = {}) {
  const dir = await tempProject({
    'layers/base.toml': '[bootstrap]\nsuite = "trixie"\npackages = ["systemd"]\n',
    'layers/mid.toml': 'parent = "base"\nrecipes = ["c", "a"]\n',
    'layers/top.toml': 'parent = "mid"\nrecipes = ["b"]\n[parameters.b]\ngreeting = "hello"\n',
    'layers/other.toml': 'parent = "base"\nrecipes = ["a"]\n',
    'recipes/a/recipe.toml': recipe(),
    'recipes/a/steps/s.sh': 'echo a\n',
    'recipes/b/recipe.toml': recipe(['c', 'a'], '[parameters.greeting]\ntype = "string"\ndefault = "hi"\n[parameters.loud]\ntype = "boolean"\ndefault = false\n'),
    'recipes/b/steps/s.sh': 'echo b\n',
    'recipes/c/recipe.toml': recipe(['d']),
    'recipes/c/steps/s.sh': 'echo c\n',
    'recipes/d/recipe.toml': recipe(),
    'recipes/d/steps/s.sh': 'echo d\n',
    ...overrides,
  });
  return { dir, project: await loadProject(dir, BUILTIN_DIR, {}) };
}

const opts = { toolsId: 'worker:1' };

describe('recipe order', () => {
  it('puts dependencies first, depth first, then the order listed, each once', async () => {
    const { project } = await fixture();
    expect(orderRecipes(project, ['b'], new Set())).toEqual(['d', 'c', 'a', 'b']);
    expect(orderRecipes(project, ['a', 'b'], new Set())).toEqual(['a', 'd', 'c', 'b']);
  });

  it('skips dependencies an ancestor layer applied, but never an explicitly listed recipe', async () => {
    const { project } = await fixture();
    expect(orderRecipes(project, ['b'], new Set(['c', 'd', 'a']))).toEqual(['b']);
    expect(orderRecipes(project, ['a'], new Set(['a']))).toEqual(['a']);
  });

  it('is the same on every run (no set or hash ordering)', async () => {
    const { project } = await fixture();
    const runs = new Set(Array.from({ length: 5 }, () => orderRecipes(project, ['b', 'a'], new Set()).join()));
    expect(runs.size).toBe(1);
  });
});

describe('layer plans and cache keys', () => {
  it('plans the chain root first, with parent keys', async () => {
    const { project } = await fixture();
    const plans = await planLayer(project, 'top', 'amd64', opts);
    expect(plans.map((p) => p.name)).toEqual(['base', 'mid', 'top']);
    expect(plans[1]!.parentKey).toBe(plans[0]!.key);
    expect(plans[2]!.parentKey).toBe(plans[1]!.key);
    expect(plans[1]!.recipes.map((r) => r.recipe.name)).toEqual(['d', 'c', 'a']);
    expect(plans[2]!.recipes.map((r) => r.recipe.name)).toEqual(['b']);
    expect(plans[2]!.recipes[0]!.parameters).toEqual({ greeting: 'hello', loud: 'false' });
  });

  it('keys are stable for the same inputs', async () => {
    const { project } = await fixture();
    const a = await planLayer(project, 'top', 'amd64', opts);
    const b = await planLayer(project, 'top', 'amd64', opts);
    expect(a.map((p) => p.key)).toEqual(b.map((p) => p.key));
  });

  it('architecture, tools and source date change every key', async () => {
    const { project } = await fixture();
    const base = (await planLayer(project, 'top', 'amd64', opts)).map((p) => p.key);
    const arm = (await planLayer(project, 'top', 'arm64', opts)).map((p) => p.key);
    const tools = (await planLayer(project, 'top', 'amd64', { toolsId: 'worker:2' })).map((p) => p.key);
    const epoch = (await planLayer({ ...project, sourceDateEpoch: 1 }, 'top', 'amd64', opts)).map((p) => p.key);
    for (const other of [arm, tools, epoch]) other.forEach((k, i) => expect(k).not.toBe(base[i]));
  });

  it('the mirror does not change keys', async () => {
    const { project } = await fixture();
    const a = await planLayer(project, 'top', 'amd64', opts);
    const b = await planLayer(project, 'top', 'amd64', { ...opts, mirror: 'http://mirror.invalid/debian' });
    expect(b.map((p) => p.key)).toEqual(a.map((p) => p.key));
    expect(b[0]!.bootstrap!.mirror).toBe('http://mirror.invalid/debian');
  });

  it('a one-byte change to a recipe changes the layers that apply it and their children, nothing else', async () => {
    const { dir, project } = await fixture();
    const before = {
      top: (await planLayer(project, 'top', 'amd64', opts)).map((p) => p.key),
      other: (await planLayer(project, 'other', 'amd64', opts)).map((p) => p.key),
    };
    await writeFile(path.join(dir, 'recipes/b/steps/s.sh'), 'echo B\n');
    const reloaded = await loadProject(dir, BUILTIN_DIR, {});
    const after = {
      top: (await planLayer(reloaded, 'top', 'amd64', opts)).map((p) => p.key),
      other: (await planLayer(reloaded, 'other', 'amd64', opts)).map((p) => p.key),
    };
    expect(after.top[0]).toBe(before.top[0]);
    expect(after.top[1]).toBe(before.top[1]);
    expect(after.top[2]).not.toBe(before.top[2]);
    expect(after.other).toEqual(before.other);
  });

  it('each recipe is a cached snapshot: a change redoes that recipe and those after it, never those before', async () => {
    const { dir, project } = await fixture();
    const before = await planLayer(project, 'mid', 'amd64', opts);
    expect(before[1]!.snapshots.map((s) => s.step)).toEqual(['recipe d', 'recipe c', 'recipe a', 'finish']);
    expect(before[1]!.key).toBe(before[1]!.snapshots.at(-1)!.key);
    await writeFile(path.join(dir, 'recipes/c/steps/s.sh'), 'echo C\n');
    const after = await planLayer(await loadProject(dir, BUILTIN_DIR, {}), 'mid', 'amd64', opts);
    const same = before[1]!.snapshots.map((s, i) => s.key === after[1]!.snapshots[i]!.key);
    expect(same).toEqual([true, false, false, false]);
  });

  it("a system's own layer: the target's recipes first (skipping what ancestors applied), then the layer's own", async () => {
    const { project } = await fixture();
    const extra = { name: 'sys', system: 'sys', recipes: ['a', 'd'], parameters: { b: { loud: true } } };
    const plans = await planLayer(project, 'top', 'amd64', opts, extra);
    expect(plans.map((p) => p.name)).toEqual(['base', 'mid', 'sys']);
    // d and a come from mid already; c too: only b (the layer's own) remains.
    expect(plans[2]!.recipes.map((r) => r.recipe.name)).toEqual(['b']);
    expect(plans[2]!.recipes[0]!.parameters).toEqual({ greeting: 'hello', loud: 'true' });
    expect(plans[2]!.snapshots.map((s) => s.step)).toEqual(['initramfs', 'recipe b', 'finish']);
    // The initramfs is made once, between the platform and the product.
    const fromBase = await planLayer(project, 'other', 'amd64', opts, { name: 'sys', system: 'sys', recipes: ['c'], parameters: {} });
    expect(fromBase[1]!.snapshots.map((s) => s.step)).toEqual(['recipe d', 'recipe c', 'initramfs', 'recipe a', 'finish']);
    // Ordinary layers have none: their finish makes what their recipes asked for.
    expect(fromBase[0]!.snapshots.map((s) => s.step)).not.toContain('initramfs');
  });

  it('a parameter value changes the key of its layer', async () => {
    const { project } = await fixture();
    const a = await planLayer(project, 'top', 'amd64', opts);
    const { project: changed } = await fixture({ 'layers/top.toml': 'parent = "mid"\nrecipes = ["b"]\n[parameters.b]\ngreeting = "hullo"\n' });
    const b = await planLayer(changed, 'top', 'amd64', opts);
    expect(b[2]!.key).not.toBe(a[2]!.key);
    expect(b[1]!.key).toBe(a[1]!.key);
  });

  it('file modes count, mtimes do not', async () => {
    const { dir } = await fixture();
    const file = path.join(dir, 'recipes/a/steps/s.sh');
    const h1 = await hashTree(path.join(dir, 'recipes/a'));
    await utimes(file, new Date(0), new Date(0));
    expect(await hashTree(path.join(dir, 'recipes/a'))).toBe(h1);
    await chmod(file, 0o644);
    expect(await hashTree(path.join(dir, 'recipes/a'))).not.toBe(h1);
  });
});

describe('step commands and environment', () => {
  it('gives each step its context', async () => {
    const { project } = await fixture();
    const plans = await planLayer(project, 'top', 'amd64', opts);
    const top = plans[2]!;
    const app = top.recipes[0]!;
    const env = stepEnv({ project, plan: top, rootfs: '/work/r', debCache: '/cache/debs', mirror: 'http://m.invalid/debian' }, app);
    expect(env).toMatchObject({
      RECIPE_DIR: app.recipe.dir,
      RECIPE_NAME: 'b',
      RECIPE_PARAM_GREETING: 'hello',
      RECIPE_PARAM_LOUD: 'false',
      BAKERY_ROOTFS: '/work/r',
      BAKERY_ARCH: 'amd64',
      BAKERY_LAYER: 'top',
      BAKERY_PROJECT_DIR: project.dir,
      BAKERY_DEB_CACHE: '/cache/debs/amd64',
      BAKERY_MIRROR: 'http://m.invalid/debian',
      SOURCE_DATE_EPOCH: String(project.sourceDateEpoch),
    });
    expect(env.BAKERY_SYSTEM).toBeUndefined();
    expect(stepArgv({ chroot: 'steps/s.sh' }, app, '/work/r').slice(1)).toEqual(['chroot', '/work/r', path.join(app.recipe.dir, 'steps/s.sh')]);
    expect(stepArgv({ packages: ['a', 'b'] }, app, '/work/r').slice(1)).toEqual(['packages', '/work/r', 'no', 'a', 'b']);
  });
});
