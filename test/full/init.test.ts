/**
 * Full suite: a product started with `bakery init`, by a bakery installed from its packed tarball
 * (`npm pack`), not the checkout: the product's own `run-bakery` installs that pinned package and
 * runs what the product's CI workflow runs — check, image, VM test, signed release — for each
 * template.
 */
import { execa } from 'execa';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BAKERY_HOME } from '../../src/util/paths.js';
import { ciCommands } from '../ci-commands.js';

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
  it.each([['efi', 'efi-product'], ['uboot', 'uboot-product']])('template %s: init, then what its CI workflow runs — check, image, VM test, release — passes', async (template, name) => {
    const dir = path.join(work, name);
    const init = await execa(bakeryBin, ['init', dir, '--template', template, '--json'], { cwd: work });
    expect(JSON.parse(init.stdout)).toMatchObject({ ok: true, name, main: `${name}-amd64` });
    // The commands of the product's CI, in its order; the release with the tag's version and the key CI gives.
    const commands = ciCommands(await readFile(path.join(dir, '.github/workflows/ci.yml'), 'utf8'));
    expect(commands.map((c) => c.slice(0, 2).join(' '))).toEqual(['check', 'bake image', `test ${name}-amd64`, 'bake release']);
    const env = { ...process.env, BAKERY_PACKAGE: tarball, npm_config_prefer_offline: 'true' };
    let first = true;
    for (const command of commands) {
      const args = command.map((w) => (w === '${GITHUB_REF_NAME#v}' ? '0.1.0' : w));
      const signing = args[1] === 'release' ? { BAKERY_SIGNING_KEY: path.join(dir, 'keys/dev.key.pem') } : {};
      const r = await execa(path.join(dir, 'run-bakery'), args, { cwd: dir, env: { ...env, ...signing }, reject: false });
      // The package, not the checkout, does it: run-bakery installs it first.
      if (first) expect(r.stderr).toContain(`run-bakery: installing bakery from ${tarball}`);
      first = false;
      expect(r.exitCode, `${args.join(' ')}\n${r.stderr.slice(-3000)}`).toBe(0);
      if (args[1] === 'release') expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, version: '0.1.0' });
    }
  });
});
