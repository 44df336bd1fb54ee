/**
 * Full suite: two cold builds of the demo, each with a cache of its own (no layer, no downloaded
 * package shared), make the same bytes: the provisioning image, and the bundle's payload (its
 * squashfs with the slot image and manifest). Only the bundle's CMS signature differs, because
 * CMS signs the signing time with it.
 */
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BAKERY_HOME } from '../../src/util/paths.js';
import { bakery } from '../helpers.js';

const SYSTEM = 'demo-efi-amd64';
const out = path.join(BAKERY_HOME, 'build', SYSTEM);
let caches: string;

afterAll(() => (caches ? rm(caches, { recursive: true, force: true }) : undefined));

async function sha256(file: string, bytes?: number): Promise<string> {
  const data = await readFile(file);
  return createHash('sha256').update(bytes === undefined ? data : data.subarray(0, bytes)).digest('hex');
}

/** A RAUC bundle is its payload, then the CMS signature, then the signature's size (8 bytes, big-endian). */
async function bundleParts(file: string): Promise<{ payload: string; signatureBytes: number }> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const tail = Buffer.alloc(8);
    await handle.read(tail, 0, 8, size - 8);
    const signatureBytes = Number(tail.readBigUInt64BE());
    return { payload: await sha256(file, size - 8 - signatureBytes), signatureBytes };
  } finally {
    await handle.close();
  }
}

describe('cold rebuilds', () => {
  it('two builds from empty caches make the same image and the same bundle payload', async () => {
    if (!existsSync(path.join(BAKERY_HOME, 'keys/dev.key.pem'))) expect((await bakery(['keys', 'generate', '--project', BAKERY_HOME])).code).toBe(0);
    caches = await mkdtemp(path.join(tmpdir(), 'bakery-repro-'));
    const builds = [];
    for (const name of ['first', 'second']) {
      const env = { BAKERY_CACHE_DIR: path.join(caches, name) };
      const r = await bakery(['bake', 'bundle', SYSTEM, '--project', BAKERY_HOME], { env });
      expect(r.code, r.stderr.slice(-3000)).toBe(0);
      const info = await execa('rauc', ['info', '--keyring', path.join(BAKERY_HOME, 'keys/dev.cert.pem'), '--output-format=json', path.join(out, 'system.raucb')]);
      builds.push({
        image: await sha256(path.join(out, 'system.img')),
        slotImage: JSON.parse(info.stdout).images.map((i: Record<string, { checksum: string }>) => Object.values(i)[0]!.checksum),
        bundle: await bundleParts(path.join(out, 'system.raucb')),
      });
      // The second build must not find anything of the first.
      await rm(env.BAKERY_CACHE_DIR, { recursive: true, force: true });
    }
    expect(builds[0]!.image).toBe(builds[1]!.image);
    expect(builds[0]!.slotImage).toEqual(builds[1]!.slotImage);
    expect(builds[0]!.bundle.payload).toBe(builds[1]!.bundle.payload);
    expect(builds[0]!.bundle.signatureBytes).toBeGreaterThan(0);
  });
});
