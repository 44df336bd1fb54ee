/**
 * Full suite: `bake release` of the demo — image, bmap, bundle, manifests and SBOMs in
 * build/release/<version>/, every file in SHA256SUMS as listed (checked by sha256sum itself), the
 * manifest's bundle hash the bundle's; a second release of the unchanged tree changes nothing.
 */
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BAKERY_HOME } from '../../src/util/paths.js';
import { bakery } from '../helpers.js';

const SYSTEM = 'demo-efi-amd64';

describe('bake release', () => {
  it('gathers the system\'s files with SHA256SUMS, and a second run is a no-op', async () => {
    // A release signs with the configured key and never makes one: a fresh checkout makes its pair first.
    if (!existsSync(path.join(BAKERY_HOME, 'keys/dev.key.pem'))) expect((await bakery(['keys', 'generate', '--project', BAKERY_HOME])).code).toBe(0);
    const r = await bakery(['bake', 'release', SYSTEM, '--json', '--project', BAKERY_HOME]);
    expect(r.code, r.stderr).toBe(0);
    const release = JSON.parse(r.stdout);
    expect(release).toMatchObject({ ok: true, version: '1.0.0', upToDate: false });
    expect(release.dir).toBe(path.join(BAKERY_HOME, 'build/release/1.0.0'));
    const files = release.systems[0].files.map((f: { file: string }) => f.file);
    expect(files).toEqual(expect.arrayContaining([`${SYSTEM}/system.img`, `${SYSTEM}/system.img.bmap`, `${SYSTEM}/system.raucb`, `${SYSTEM}/system.raucb.json`, `${SYSTEM}/build-info.json`,
      `${SYSTEM}/system.img.spdx.json`, `${SYSTEM}/system.img.cdx.json`, `${SYSTEM}/system.raucb.spdx.json`, `${SYSTEM}/system.raucb.cdx.json`]));
    const check = await execa('sha256sum', ['--check', '--strict', 'SHA256SUMS'], { cwd: release.dir });
    expect(check.stdout.split('\n')).toHaveLength(files.length);
    const manifest = JSON.parse(await readFile(path.join(release.dir, SYSTEM, 'system.raucb.json'), 'utf8'));
    const bundle = release.systems[0].files.find((f: { file: string }) => f.file.endsWith('system.raucb'));
    expect(manifest.bundle.sha256).toBe(bundle.sha256);
    const before = (await stat(path.join(release.dir, 'SHA256SUMS'))).mtimeMs;
    const again = await bakery(['bake', 'release', SYSTEM, '--json', '--project', BAKERY_HOME]);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ upToDate: true, systems: release.systems });
    expect((await stat(path.join(release.dir, 'SHA256SUMS'))).mtimeMs).toBe(before);
    expect(JSON.parse(again.stdout).inputs).toBeUndefined();
    // A release is a build record for `diff`: against itself, nothing changed.
    const diff = await bakery(['diff', release.dir, release.dir, '--json']);
    expect(diff.code, diff.stderr).toBe(0);
    expect(JSON.parse(diff.stdout).systems).toEqual([expect.objectContaining({ system: SYSTEM, identical: true })]);
  });
});
