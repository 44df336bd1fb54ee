/**
 * Signed update bundles from the same build as the image: keys, `bake bundle`, the release
 * manifest, verification with RAUC, refusal of tampered or foreign bundles, the key kept out.
 */
import { execa } from 'execa';
import { cp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BAKERY_HOME } from '../../src/util/paths.js';
import { bakery, tempProject } from '../helpers.js';
import { cycloneDxProblems, spdxProblems } from '../sbom-checks.js';

const SYSTEM = 'bundled';
let project: string;

afterAll(async () => {
  await rm(project, { recursive: true, force: true });
});

/** The repository's demo product (layer `demo`, recipe `demo-app`), which these systems run. */
async function withDemo(dir: string): Promise<string> {
  for (const entry of ['layers', 'recipes']) await cp(path.join(BAKERY_HOME, entry), path.join(dir, entry), { recursive: true });
  return dir;
}

beforeAll(async () => {
  project = await withDemo(await tempProject({
    'systems.toml': `[systems.${SYSTEM}]\nlayer = "demo"\narchitecture = "amd64"\ntarget = "generic-efi"\nversion = "2.0.0"\n[systems.${SYSTEM}.bundle]\ncompatible = "bakery-test-device"\n`,
  }, { keep: true }));
});

const out = () => path.join(project, 'build', SYSTEM);

describe('signing keys and bundles', () => {
  it('refuses to bundle without a key, before building anything', async () => {
    const r = await bakery(['bake', 'bundle', SYSTEM, '--project', project]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('signing certificate');
    expect(r.stderr).toContain('bakery keys generate');
  });

  it('keys generate makes a pair valid since 1970, the private half git-ignored', async () => {
    const r = await bakery(['keys', 'generate', '--json', '--project', project]);
    expect(r.code, r.stderr).toBe(0);
    const { cert, key } = JSON.parse(r.stdout);
    const text = (await execa('openssl', ['x509', '-in', cert, '-noout', '-startdate', '-ext', 'extendedKeyUsage'])).stdout;
    expect(text).toContain('notBefore=Jan  1 00:00:00 1970 GMT');
    expect(text).toContain('Code Signing');
    expect(await readFile(path.join(project, '.gitignore'), 'utf8')).toContain('keys/*.key.pem');
    expect(((await import('node:fs')).statSync(key).mode & 0o777).toString(8)).toBe('600');
    const again = await bakery(['keys', 'generate', '--project', project]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('--force');
    // A directory outside the project: made, and said not to be git-ignored (git cannot ignore it).
    const outside = await tempProject({});
    const o = await bakery(['keys', 'generate', '--dir', outside, '--name', 'release', '--json', '--project', project]);
    expect(o.code, o.stderr).toBe(0);
    expect(JSON.parse(o.stdout)).toMatchObject({ key: path.join(outside, 'release.key.pem'), gitIgnored: false });
    expect(await readFile(path.join(project, '.gitignore'), 'utf8')).not.toContain('..');
  });

  it('a key that does not belong to the certificate is refused before any work', async () => {
    const other = await tempProject({});
    expect((await bakery(['keys', 'generate', '--project', other])).code).toBe(0);
    const r = await bakery(['bake', 'bundle', SYSTEM, '--project', project], { env: { BAKERY_SIGNING_KEY: path.join(other, 'keys/dev.key.pem') } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('does not belong to the certificate');
  });

  it('a certificate not meant for code signing is refused before any work', async () => {
    const other = await tempProject({});
    await execa('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=web',
      '-days', '30', '-addext', 'extendedKeyUsage=serverAuth', '-keyout', path.join(other, 'web.key.pem'), '-out', path.join(other, 'web.cert.pem')]);
    const web = await withDemo(await tempProject({
      'systems.toml': `[systems.web]\nlayer = "demo"\narchitecture = "amd64"\ntarget = "generic-efi"\n[systems.web.bundle]\ncert = "${path.join(other, 'web.cert.pem')}"\nkey = "${path.join(other, 'web.key.pem')}"\n`,
    }));
    const r = await bakery(['bake', 'bundle', 'web', '--project', web]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('is not for code signing');
  });

  it('an empty or malformed version is refused before any work', async () => {
    for (const version of ['', 'two words']) {
      const r = await bakery(['bake', 'bundle', SYSTEM, '--bundle-version', version, '--project', project]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('--bundle-version: expected a version like "2.1.0"');
    }
    // Devices refuse older bundles by RAUC's semantic-version order: a version it cannot compare would never install.
    const r = await bakery(['bake', 'bundle', SYSTEM, '--bundle-version', '2.0~rc1', '--project', project]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('compare versions as semantic versions; expected MAJOR[.MINOR[.PATCH]][-PRERELEASE][+BUILD]');
  });

  it('bake bundle: a verity bundle RAUC verifies, with the image\'s own slot image, and a release manifest', async () => {
    const r = await bakery(['bake', 'bundle', SYSTEM, '--json', '--without-compression', '--project', project]);
    expect(r.stderr).toBe('');
    expect(r.code, r.stderr).toBe(0);
    // stdout is the release manifest, with the CLI's "ok".
    const { ok, ...release } = JSON.parse(r.stdout);
    expect(ok).toBe(true);
    expect(release).toMatchObject({ system: SYSTEM, compatible: 'bakery-test-device', version: '2.0.0', bundle: { file: 'system.raucb', format: 'verity' } });
    const bundle = path.join(out(), 'system.raucb');
    expect(JSON.parse(await readFile(path.join(out(), 'system.raucb.json'), 'utf8'))).toEqual(release);
    const { stdout: sha } = await execa('sha256sum', [bundle]);
    expect(sha.split(' ')[0]).toBe(release.bundle.sha256);
    const info = (await execa('rauc', ['info', '--keyring', path.join(project, 'keys/dev.cert.pem'), '--output-format=shell', bundle])).stdout;
    expect(info).toContain("RAUC_MF_COMPATIBLE='bakery-test-device'");
    expect(info).toContain("RAUC_MF_VERSION='2.0.0'");
    const text = (await execa('rauc', ['info', '--keyring', path.join(project, 'keys/dev.cert.pem'), bundle])).stdout;
    expect(text).toMatch(/Bundle Format:\s+verity/);
    // The slot image in the bundle is the image's rootfs A, byte for byte.
    const buildInfo = JSON.parse(await readFile(path.join(out(), 'build-info.json'), 'utf8'));
    const slot = buildInfo.image.partitions.find((p: { role: string }) => p.role === 'rootfs-a');
    const digest = /RAUC_IMAGE_DIGEST_0='([0-9a-f]+)'/.exec(info)![1];
    const { stdout: slotSha } = await execa('sh', ['-c', `dd if=${path.join(out(), 'system.img')} bs=1M skip=${slot.start / 2 ** 20} count=${slot.size / 2 ** 20} status=none | sha256sum`]);
    expect(slotSha.split(' ')[0]).toBe(digest);
  });

  it('the bundle\'s SBOMs validate, name the bundle by its checksum and the same packages as its slot image', async () => {
    const release = JSON.parse(await readFile(path.join(out(), 'system.raucb.json'), 'utf8'));
    expect(release.sboms).toEqual({ spdx: 'system.raucb.spdx.json', cyclonedx: 'system.raucb.cdx.json' });
    const spdx = JSON.parse(await readFile(path.join(out(), release.sboms.spdx), 'utf8'));
    const cdx = JSON.parse(await readFile(path.join(out(), release.sboms.cyclonedx), 'utf8'));
    expect(spdxProblems(spdx)).toEqual([]);
    expect(await cycloneDxProblems(cdx)).toEqual([]);
    expect(spdx.packages[0]).toMatchObject({ name: 'system.raucb', checksums: [{ algorithm: 'SHA256', checksumValue: release.bundle.sha256 }] });
    expect(cdx.metadata.component.hashes).toEqual([{ alg: 'SHA-256', content: release.bundle.sha256 }]);
    const imageCdx = JSON.parse(await readFile(path.join(out(), 'system.img.cdx.json'), 'utf8'));
    const purls = (doc: { components: { purl: string }[] }) => doc.components.map((c) => c.purl);
    expect(purls(cdx).length).toBeGreaterThan(100);
    expect(purls(cdx)).toEqual(purls(imageCdx));
  });

  // A flipped payload byte is dm-verity's to catch when a device installs the bundle; here the
  // signed part (manifest, verity root hash, signature) is what must not verify once touched.
  it('a bundle with one flipped byte in its signed part, or checked against another certificate, is refused', async () => {
    const bundle = path.join(out(), 'system.raucb');
    const cert = path.join(project, 'keys/dev.cert.pem');
    const tampered = path.join(project, 'tampered.raucb');
    const bytes = await readFile(bundle);
    bytes[bytes.length - 200]! ^= 0xff; // inside the CMS signature, before the trailing size
    await writeFile(tampered, bytes);
    const flipped = await execa('rauc', ['info', '--keyring', cert, tampered], { reject: false });
    expect(flipped.exitCode).not.toBe(0);
    const other = await tempProject({});
    await bakery(['keys', 'generate', '--project', other]);
    const foreign = await execa('rauc', ['info', '--keyring', path.join(other, 'keys/dev.cert.pem'), bundle], { reject: false });
    expect(foreign.exitCode).not.toBe(0);
  });

  it('the private key appears in no output, log or build info', async () => {
    const key = await readFile(path.join(project, 'keys/dev.key.pem'), 'utf8');
    const body = key.split('\n').filter((l) => l && !l.startsWith('-----')).join('');
    const needle = body.slice(10, 50);
    const files = [path.join(out(), 'system.raucb'), path.join(out(), 'system.img'), path.join(out(), 'build-info.json'), path.join(out(), 'system.raucb.json')];
    for (const log of await readdir(path.join(out(), 'logs'))) files.push(path.join(out(), 'logs', log));
    for (const f of files) {
      const { exitCode } = await execa('grep', ['-qF', needle, f], { reject: false });
      expect(exitCode, f).toBe(1);
    }
  });
});
