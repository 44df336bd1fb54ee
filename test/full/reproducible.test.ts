/**
 * Full suite: two cold builds of the demo, amd64 and arm64, each with a cache of its own (no
 * layer, no downloaded package shared), make the same bytes: the provisioning image, its slot
 * image, the bundle's squashfs (the slot image and manifest), the image's SBOMs and its file
 * list. What differs between two bundles of the same content, by RAUC's design: the dm-verity
 * hash tree (RAUC salts it with random bytes) and the CMS signature (it covers the salt and signs
 * its own signing time).
 */
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BAKERY_HOME } from '../../src/util/paths.js';
import { bakery } from '../helpers.js';

const made: string[] = [];

afterAll(async () => {
  for (const dir of made) await rm(dir, { recursive: true, force: true });
});

/** sha256 of a file, or of its first `bytes` bytes; streamed (an arm64 image is over 2 GiB). */
async function sha256(file: string, bytes?: number): Promise<string> {
  const hash = createHash('sha256');
  const range = bytes === undefined ? {} : { end: bytes - 1 };
  for await (const chunk of createReadStream(file, { ...range, highWaterMark: 4 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * A verity bundle is its squashfs (padded to 4 KiB), the dm-verity hash tree of it, the CMS
 * signature, and the signature's size (8 bytes, big-endian). The squashfs is what a build makes;
 * the hash tree is salted by RAUC with random bytes each time (src/bundle.c: RAND_bytes, no option),
 * and the signature covers that salt and its own signing time.
 */
async function bundleParts(file: string): Promise<{ squashfs: string; signatureBytes: number }> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const tail = Buffer.alloc(8);
    await handle.read(tail, 0, 8, size - 8);
    const superblock = Buffer.alloc(96);
    await handle.read(superblock, 0, 96, 0);
    expect(superblock.toString('latin1', 0, 4)).toBe('hsqs');
    const used = Number(superblock.readBigUInt64LE(40));
    return { squashfs: await sha256(file, Math.ceil(used / 4096) * 4096), signatureBytes: Number(tail.readBigUInt64BE()) };
  } finally {
    await handle.close();
  }
}

describe('cold rebuilds', () => {
  // arm64 too: its packages are configured under emulation (qemu-user), another source of drift.
  it.each(['demo-efi-amd64', 'demo-efi-arm64'])('%s: two builds from empty caches make the same image, slot image, bundle squashfs, SBOMs and file list', async (system) => {
    const out = path.join(BAKERY_HOME, 'build', system);
    if (!existsSync(path.join(BAKERY_HOME, 'keys/dev.key.pem'))) expect((await bakery(['keys', 'generate', '--project', BAKERY_HOME])).code).toBe(0);
    const caches = await mkdtemp(path.join(tmpdir(), 'bakery-repro-'));
    made.push(caches);
    const builds = [];
    for (const name of ['first', 'second']) {
      const env = { BAKERY_CACHE_DIR: path.join(caches, name) };
      const r = await bakery(['bake', 'bundle', system, '--project', BAKERY_HOME], { env });
      expect(r.code, r.stderr.slice(-3000)).toBe(0);
      const info = await execa('rauc', ['info', '--keyring', path.join(BAKERY_HOME, 'keys/dev.cert.pem'), '--output-format=json', path.join(out, 'system.raucb')]);
      builds.push({
        image: await sha256(path.join(out, 'system.img')),
        slotImage: JSON.parse(info.stdout).images.map((i: Record<string, { checksum: string }>) => Object.values(i)[0]!.checksum),
        bundle: await bundleParts(path.join(out, 'system.raucb')),
        records: await Promise.all(['system.img.spdx.json', 'system.img.cdx.json', 'files.json.gz'].map((f) => sha256(path.join(out, f)))),
      });
      // The second build must not find anything of the first.
      await rm(env.BAKERY_CACHE_DIR, { recursive: true, force: true });
    }
    expect(builds[0]!.image).toBe(builds[1]!.image);
    expect(builds[0]!.slotImage).toEqual(builds[1]!.slotImage);
    expect(builds[0]!.bundle.squashfs).toBe(builds[1]!.bundle.squashfs);
    expect(builds[0]!.bundle.signatureBytes).toBeGreaterThan(0);
    // The image's SBOMs and file list (a bundle's SBOM names the whole bundle, signature included, by its checksum).
    expect(builds[0]!.records).toEqual(builds[1]!.records);
  });
});
