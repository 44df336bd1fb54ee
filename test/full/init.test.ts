/**
 * Full suite: a product started with `bakery init`, by a bakery installed from its packed tarball
 * (`npm pack`), not the checkout: the product's own `run-bakery` installs that pinned package,
 * builds the image and bundle, and passes the product's VM test — for each template.
 */
import { execa } from 'execa';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BAKERY_HOME } from '../../src/util/paths.js';

let work: string;
let tarball: string;
let bakeryBin: string;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'bakery-init-'));
  await execa('npm', ['pack', '--pack-destination', work], { cwd: BAKERY_HOME });
  tarball = path.join(work, (await readdir(work)).find((f) => f.endsWith('.tgz'))!);
  // Installed as a user would; npm's cache (filled by `npm ci`) makes it work offline.
  await execa('npm', ['install', '--prefix', path.join(work, 'tool'), '--prefer-offline', '--no-audit', '--no-fund', tarball]);
  bakeryBin = path.join(work, 'tool/node_modules/.bin/bakery');
}, 10 * 60_000);

afterAll(() => rm(work, { recursive: true, force: true }));

describe('products from templates, with bakery from its package', () => {
  it.each([['efi', 'efi-product'], ['uboot', 'uboot-product']])('template %s: init, then the product\'s run-bakery builds, bundles and passes its VM test', async (template, name) => {
    const dir = path.join(work, name);
    const init = await execa(bakeryBin, ['init', dir, '--template', template, '--json'], { cwd: work });
    expect(JSON.parse(init.stdout)).toMatchObject({ ok: true, name, main: `${name}-amd64` });
    const env = { ...process.env, BAKERY_PACKAGE: tarball, npm_config_prefer_offline: 'true' };
    const run = (args: string[]) => execa(path.join(dir, 'run-bakery'), args, { cwd: dir, env, reject: false });
    const image = await run(['bake', 'image', `${name}-amd64`, '--json']);
    expect(image.exitCode, image.stderr).toBe(0);
    // The package, not the checkout, did it.
    expect(image.stderr).toContain('run-bakery: installing bakery from');
    const bundle = await run(['bake', 'bundle', `${name}-amd64`, '--json']);
    expect(bundle.exitCode, bundle.stderr).toBe(0);
    expect(JSON.parse(bundle.stdout)).toMatchObject({ ok: true, compatible: `${name}-amd64`, version: '0.1.0' });
    const test = await run(['test', `${name}-amd64`, '--json']);
    const out = JSON.parse(test.stdout);
    expect(out.runs.flatMap((r: { steps: { status: string; name: string; message?: string }[] }) => r.steps.filter((s) => s.status === 'failed').map((s) => `${s.name}: ${s.message}`)), `logs: ${out.runDir}`).toEqual([]);
    expect(test.exitCode).toBe(0);
  });
});
