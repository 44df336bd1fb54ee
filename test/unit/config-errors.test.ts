import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bakery, tempProject } from '../helpers.js';

const GOOD_TARGET = `
description = "t"
architectures = ["amd64"]
partition-table = "gpt"
boot-flow = "grub-efi"
rauc-bootloader = "grub"
[[partitions]]
name = "boot"
role = "boot"
size = "16M"
filesystem = "vfat"
type = "esp"
[[partitions]]
name = "rootfsA"
role = "rootfs-a"
filesystem = "ext4"
[[partitions]]
name = "rootfsB"
role = "rootfs-b"
filesystem = "ext4"
[[partitions]]
name = "data"
role = "data"
filesystem = "ext4"
`;

const GOOD_RECIPE = `description = "r"\n[[steps]]\nchroot = "steps/a.sh"\n`;

/** A valid little project; each case overrides one file to break one thing. */
function project(overrides: Record<string, string>): Record<string, string> {
  return {
    'systems.toml': `[systems.dev]\nlayer = "app"\narchitecture = "amd64"\ntarget = "tgt"\n`,
    'layers/app.toml': `parent = "debian-trixie"\nrecipes = ["r"]\n`,
    'recipes/r/recipe.toml': GOOD_RECIPE,
    'recipes/r/steps/a.sh': '#!/bin/sh\ntrue\n',
    'targets/tgt.toml': GOOD_TARGET,
    ...overrides,
  };
}

interface Case {
  name: string;
  files: Record<string, string>;
  /** Every string must appear in stderr. */
  expect: (string | RegExp)[];
  env?: NodeJS.ProcessEnv;
}

const cases: Case[] = [
  // The built-in rk3588 target: its loader blob is an input of each system, checked on load.
  {
    name: 'rk3588: the loader blob not given',
    files: { 'systems.toml': '[systems.dev]\nlayer = "app"\narchitecture = "arm64"\ntarget = "rk3588"\n' },
    expect: ['`systems.dev.inputs.u-boot`', 'target "rk3588" needs the input "u-boot": u-boot-rockchip.bin', 'set [systems.dev.inputs] u-boot = "path/to/file"'],
  },
  {
    name: 'rk3588: a loader blob that would overwrite the first partition',
    files: { 'systems.toml': '[systems.dev]\nlayer = "app"\narchitecture = "arm64"\ntarget = "rk3588"\n[systems.dev.inputs]\nu-boot = "u-boot-rockchip.bin"\n', 'u-boot-rockchip.bin': 'x'.repeat(16 * 1024 * 1024) },
    expect: ['`systems.dev.inputs.u-boot`', '"u-boot-rockchip.bin" is 16777216 bytes; the area at offset 32768 holds 16744448'],
  },
  {
    name: 'rk3588: a loader blob that does not exist',
    files: { 'systems.toml': '[systems.dev]\nlayer = "app"\narchitecture = "arm64"\ntarget = "rk3588"\n[systems.dev.inputs]\nu-boot = "blobs/missing.bin"\n' },
    expect: ['`systems.dev.inputs.u-boot`', 'file "blobs/missing.bin" not found'],
  },
  {
    name: 'target parameters for a recipe the target does not apply',
    files: { 'targets/tgt.toml': `${GOOD_TARGET.replace('rauc-bootloader = "grub"', 'rauc-bootloader = "grub"\n[parameters.bakery-uboot]\nconsole = "ttyS2,1500000"\n')}` },
    expect: ['tgt.toml', '`parameters.bakery-uboot`', 'parameters for recipe "bakery-uboot", which this target does not apply'],
  },
  { name: 'TOML syntax error', files: { 'systems.toml': '[systems.dev\nlayer = "x"\n' }, expect: ['systems.toml', 'TOML syntax error', /line 1/] },
  { name: 'unknown key in a system, with a hint', files: { 'systems.toml': '[systems.dev]\nlayer = "app"\narch = "amd64"\ntarget = "tgt"\n' }, expect: ['line 3', '`systems.dev.arch`', 'unknown key `arch`', 'did you mean `architecture`?'] },
  { name: 'unknown top-level key', files: { 'systems.toml': 'colour = "blue"\n' }, expect: ['systems.toml', 'unknown key `colour`'] },
  { name: 'wrong type', files: { 'systems.toml': '[systems.dev]\nlayer = 5\narchitecture = "amd64"\ntarget = "tgt"\n' }, expect: ['`systems.dev.layer`', 'expected string, got number 5', 'line 2'] },
  { name: 'architecture not known', files: { 'systems.toml': '[systems.dev]\nlayer = "app"\narchitecture = "x86"\ntarget = "tgt"\n' }, expect: ['`systems.dev.architecture`', 'expected one of "amd64", "arm64", got the string "x86"'] },
  { name: 'missing required key', files: { 'systems.toml': '[systems.dev]\narchitecture = "amd64"\ntarget = "tgt"\n' }, expect: ['`systems.dev.layer`', 'missing required key, expected string'] },
  { name: 'missing required enum key', files: { 'systems.toml': '[systems.dev]\nlayer = "app"\ntarget = "tgt"\n' }, expect: ['`systems.dev.architecture`', 'missing required key, expected one of "amd64", "arm64"'] },
  { name: 'unknown layer with suggestion', files: { 'systems.toml': '[systems.dev]\nlayer = "apq"\narchitecture = "amd64"\ntarget = "tgt"\n' }, expect: ['`systems.dev.layer`', 'unknown layer "apq"', 'did you mean "app"?'] },
  { name: 'unknown target', files: { 'systems.toml': '[systems.dev]\nlayer = "app"\narchitecture = "amd64"\ntarget = "nothing-like-it"\n' }, expect: ['`systems.dev.target`', 'unknown target "nothing-like-it"', 'known: '] },
  { name: 'architecture the target does not support', files: { 'systems.toml': '[systems.dev]\nlayer = "app"\narchitecture = "arm64"\ntarget = "tgt"\n' }, expect: ['`systems.dev.architecture`', 'target "tgt" does not support architecture arm64', 'it supports amd64'] },
  { name: 'invalid name', files: { 'systems.toml': '[systems.dev]\nlayer = "App Layer"\narchitecture = "amd64"\ntarget = "tgt"\n' }, expect: ['`systems.dev.layer`', 'lowercase letters'] },
  {
    name: 'boot deadline not longer than the health timeout',
    files: { 'systems.toml': '[systems.dev]\nlayer = "app"\narchitecture = "amd64"\ntarget = "tgt"\nhealth = { timeout = "5m", boot-deadline = "4m" }\n' },
    expect: ['`systems.dev.health.boot-deadline`', 'must be longer than the health timeout (300 s)', 'line 5'],
  },
  { name: 'a version RAUC cannot compare', files: { 'systems.toml': '[systems.dev]\nlayer = "app"\narchitecture = "amd64"\ntarget = "tgt"\nversion = "1.0-rc-1"\n' }, expect: ['`systems.dev.version`', 'line 5', 'compares as a semantic version', 'bundle.allow-downgrade = true'] },
  { name: 'watchdog that is not a duration', files: { 'systems.toml': '[systems.dev]\nlayer = "app"\narchitecture = "amd64"\ntarget = "tgt"\n[systems.dev.health]\nwatchdog = "soon"\n' }, expect: ['`systems.dev.health.watchdog`', 'a duration', '0 / "off"'] },
  { name: 'layer with parent and bootstrap', files: { 'layers/app.toml': 'parent = "debian-trixie"\n[bootstrap]\nsuite = "trixie"\n' }, expect: ['layers/app.toml', 'either `parent` or `[bootstrap]`, not both'] },
  { name: 'layer with neither parent nor bootstrap', files: { 'layers/app.toml': 'recipes = ["r"]\n' }, expect: ['layers/app.toml', 'needs either `parent'] },
  { name: 'unknown parent', files: { 'layers/app.toml': 'parent = "debian-trixy"\n' }, expect: ['layers/app.toml', '`parent`', 'unknown layer "debian-trixy"', 'did you mean "debian-trixie"?'] },
  { name: 'parent cycle', files: { 'layers/app.toml': 'parent = "b"\n', 'layers/b.toml': 'parent = "app"\n' }, expect: ['layers form a cycle: app → b → app'] },
  { name: 'unknown recipe in a layer', files: { 'layers/app.toml': 'parent = "debian-trixie"\nrecipes = ["r", "hostnme"]\n' }, expect: ['layers/app.toml', '`recipes.2`', 'unknown recipe "hostnme"', 'did you mean "hostname"?'] },
  { name: '`recipe` instead of `recipes`', files: { 'layers/app.toml': 'parent = "debian-trixie"\nrecipe = ["r"]\n' }, expect: ['unknown key `recipe`', 'did you mean `recipes`?'] },
  { name: 'parameters for a recipe the layer does not apply', files: { 'layers/app.toml': 'parent = "debian-trixie"\nrecipes = ["r"]\n[parameters.hostname]\nname = "x"\n' }, expect: ['`parameters.hostname`', 'which this layer does not apply'] },
  { name: 'unknown parameter', files: { 'layers/app.toml': 'parent = "debian-trixie"\nrecipes = ["hostname"]\n[parameters.hostname]\nnmae = "x"\n' }, expect: ['`parameters.hostname.nmae`', 'unknown parameter `nmae`', 'the recipe has `name`'] },
  {
    name: 'parameter of the wrong type',
    files: {
      'layers/app.toml': 'parent = "debian-trixie"\nrecipes = ["r"]\n[parameters.r]\ncount = "three"\n',
      'recipes/r/recipe.toml': `${GOOD_RECIPE}[parameters.count]\ntype = "integer"\ndefault = 1\n`,
    },
    expect: ['`parameters.r.count`', 'expected an integer, got the string "three"'],
  },
  {
    name: 'missing required parameter',
    files: { 'recipes/r/recipe.toml': `${GOOD_RECIPE}[parameters.token]\nrequired = true\n` },
    expect: ['layers/app.toml', '`parameters.r.token`', 'missing required parameter `token`', 'set it under [parameters.r]'],
  },
  { name: 'recipe without description', files: { 'recipes/r/recipe.toml': '[[steps]]\nchroot = "steps/a.sh"\n' }, expect: ['recipes/r/recipe.toml', '`description`', 'missing required key'] },
  { name: 'step with two kinds', files: { 'recipes/r/recipe.toml': 'description = "r"\n[[steps]]\nchroot = "steps/a.sh"\npackages = ["x"]\n' }, expect: ['`steps.1`', 'line 2', 'exactly one kind, got `packages` and `chroot`'] },
  { name: 'step with no kind', files: { 'recipes/r/recipe.toml': 'description = "r"\n[[steps]]\ndescription = "nothing"\n' }, expect: ['`steps.1`', 'a step needs one of'] },
  { name: 'step script missing', files: { 'recipes/r/recipe.toml': 'description = "r"\n[[steps]]\nchroot = "steps/missing.sh"\n' }, expect: ['`steps.1.chroot`', 'script "steps/missing.sh" not found'] },
  { name: 'step path outside the recipe', files: { 'recipes/r/recipe.toml': 'description = "r"\n[[steps]]\nhost = "../../etc/passwd"\n' }, expect: ['`steps.1.host`', 'points outside the recipe directory'] },
  { name: 'unknown dependency', files: { 'recipes/r/recipe.toml': `description = "r"\ndependencies = ["ghost"]\n` }, expect: ['recipes/r/recipe.toml', '`dependencies.1`', 'unknown recipe "ghost"'] },
  {
    name: 'dependency cycle',
    files: {
      'recipes/r/recipe.toml': 'description = "r"\ndependencies = ["s"]\n',
      'recipes/s/recipe.toml': 'description = "s"\ndependencies = ["r"]\n',
    },
    expect: ['recipe dependencies form a cycle: r → s → r'],
  },
  { name: 'recipe directory without recipe.toml', files: { 'recipes/empty/.keep': '' }, expect: ['recipes/empty/recipe.toml', 'file not found'] },
  { name: 'bad size', files: { 'systems.toml': '[cache]\nmax-size = "lots"\n' }, expect: ['`cache.max-size`', 'expected a size like "512M"'] },
  { name: 'bootstrap variant unknown', files: { 'layers/app.toml': '[bootstrap]\nsuite = "trixie"\nvariant = "tiny"\n' }, expect: ['`bootstrap.variant`', 'expected one of "minbase"'] },
  { name: 'bootstrap mirror not a URL', files: { 'layers/app.toml': '[bootstrap]\nsuite = "trixie"\nmirror = "not a url"\n' }, expect: ['`bootstrap.mirror`', 'not a url'] },
  { name: 'target lacks a slot', files: { 'targets/tgt.toml': GOOD_TARGET.replace('role = "rootfs-b"', 'role = "reserved"') }, expect: ['targets/tgt.toml', 'a target needs a partition with role "rootfs-b"'] },
  {
    name: 'MBR cannot hold the layout',
    files: { 'targets/tgt.toml': GOOD_TARGET.replace('"gpt"', '"mbr"').replace(/type = "esp"/, 'type = "0c"') + '[[partitions]]\nname = "extra"\nrole = "reserved"\ntype = "83"\n' },
    expect: ['an MBR partition table holds 4 primary partitions, this layout has 5'],
  },
  { name: 'unknown GPT type', files: { 'targets/tgt.toml': GOOD_TARGET.replace('type = "esp"', 'type = "efi-system"') }, expect: ['`partitions.1.type`', 'expected a GPT type'] },
  { name: 'parameter default of the wrong type', files: { 'recipes/r/recipe.toml': 'description = "r"\n[parameters.n]\ntype = "integer"\ndefault = "abc"\n[[steps]]\nchroot = "steps/a.sh"\n' }, expect: ['line 4, `parameters.n.default`', 'must be an integer, got "abc"'] },
  { name: 'parameter both required and defaulted', files: { 'recipes/r/recipe.toml': 'description = "r"\n[parameters.n]\ndefault = "x"\nrequired = true\n[[steps]]\nchroot = "steps/a.sh"\n' }, expect: ['`parameters.n.required`', 'give `required = true` or a `default`, not both'] },
  { name: 'a system name that is not a name', files: { 'systems.toml': '[systems."My Sensor"]\nlayer = "app"\narchitecture = "amd64"\ntarget = "tgt"\n' }, expect: ['line 1', '"My Sensor" is not a valid name: expected a name of lowercase letters'] },
  { name: 'bad SOURCE_DATE_EPOCH', files: {}, env: { SOURCE_DATE_EPOCH: 'yesterday' }, expect: ['SOURCE_DATE_EPOCH', 'expected whole seconds since 1970'] },
];

describe('configuration errors', () => {
  it('the valid base project loads', async () => {
    const dir = await tempProject(project({}));
    const result = await bakery(['check', '--project', dir]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it.each(cases)('$name', async ({ files, expect: needles, env }) => {
    const dir = await tempProject(project(files));
    const result = await bakery(['check', '--project', dir], { env });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('invalid configuration');
    expect(result.stderr).not.toMatch(/at .*\.ts:\d+/); // no stack trace
    for (const needle of needles) expect(result.stderr).toMatch(typeof needle === 'string' ? new RegExp(escape(needle)) : needle);
  });

  it('reports every problem of a project at once', async () => {
    const dir = await tempProject(
      project({
        'systems.toml': '[systems.dev]\nlayer = "nope"\narchitecture = "amd64"\ntarget = "tgt"\n',
        'layers/app.toml': 'parent = "debian-trixie"\nrecipes = ["ghost"]\n',
      }),
    );
    const result = await bakery(['check', '--project', dir]);
    expect(result.stderr).toContain('unknown layer "nope"');
    expect(result.stderr).toContain('unknown recipe "ghost"');
  });

  it('one pass: schema and semantic problems together, each with its line', async () => {
    const dir = await tempProject(
      project({
        'layers/app.toml': 'parent = "debian-trixie"\nrecipes = ["hostname"]\nrecipies = []\n',
        'layers/other.toml': 'parent = "debian-trixie"\n\nrecipes = ["ghost"]\n',
      }),
    );
    const result = await bakery(['check', '--project', dir]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('line 3, `recipies`: unknown key');
    expect(result.stderr).toContain('line 3, `recipes.1`: unknown recipe "ghost"');
  });

  it('a broken layer fails only what uses it: a warning for list, an error for its builds', async () => {
    const dir = await tempProject(
      project({
        'systems.toml': '[systems.dev]\nlayer = "debian-trixie"\narchitecture = "amd64"\ntarget = "tgt"\n[systems.broken]\nlayer = "app"\narchitecture = "amd64"\ntarget = "tgt"\n',
        'layers/app.toml': 'parent = "debian-trixie"\nrecipes = ["ghost"]\n',
      }),
    );
    const list = await bakery(['list', '--json', '--project', dir]);
    expect(list.code).toBe(0);
    const listed = JSON.parse(list.stdout);
    expect(listed.problems).toEqual([expect.objectContaining({ file: expect.stringContaining('layers/app.toml'), key: 'recipes.1', message: 'unknown recipe "ghost"' })]);
    const text = await bakery(['list', '--project', dir]);
    expect(text.stderr).toContain('warning: 1 problem');
    expect((await bakery(['bake', 'layer', 'debian-trixie', '--dry-run', '--project', dir])).code).toBe(0);
    for (const args of [['bake', 'layer', 'app', '--dry-run'], ['bake', 'image', 'broken', '--dry-run']]) {
      const r = await bakery([...args, '--project', dir]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('unknown recipe "ghost"');
    }
  });

  it('a project recipe shadowing a built-in one breaks only the built-ins that use it', async () => {
    // The built-in `rk3588` target gives `bakery-uboot` parameters this recipe does not take.
    const dir = await tempProject(project({ 'recipes/bakery-uboot/recipe.toml': GOOD_RECIPE, 'recipes/bakery-uboot/steps/a.sh': 'true\n' }));
    // Quiet where the project does not use it…
    for (const command of ['list', 'check']) {
      const r = await bakery([command, '--project', dir]);
      expect([command, r.code, r.stderr]).toEqual([command, 0, '']);
    }
    expect((await bakery(['bake', 'layer', 'debian-trixie', '--dry-run', '--project', dir])).code).toBe(0);
    // …an error, in the built-in's file, for what builds it.
    await writeFile(path.join(dir, 'systems.toml'), '[systems.board]\nlayer = "debian-trixie"\narchitecture = "arm64"\ntarget = "rk3588"\n');
    const r = await bakery(['bake', 'image', 'board', '--dry-run', '--project', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/targets\/rk3588\.toml.*\n.*parameters\.bakery-uboot\.device_tree/);
  });

  it('a missing project directory is a clear error', async () => {
    const result = await bakery(['list', '--project', '/nonexistent/bakery-project']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('project directory /nonexistent/bakery-project does not exist');
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
