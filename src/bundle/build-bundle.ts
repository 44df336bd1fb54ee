/**
 * `bake bundle`: a signed RAUC bundle (verity format) whose rootfs image is the very slot image
 * of the provisioning image (same layer, same bytes), and a release manifest beside it.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import type { Executor } from '../executor/executor.js';
import { IMAGE_TOOL, type ImageBuild } from '../image/build-image.js';
import { UserError } from '../errors.js';
import { ROOTFS_TOOL } from '../engine/steps.js';
import { sha256File } from '../engine/hash.js';
import { writeSboms, type SbomFiles } from '../sbom/documents.js';
import { onCleanup } from '../util/cleanup.js';
import type { System } from '../config/project.js';
import type { SigningPair } from './keys.js';

export interface ReleaseManifest {
  system: string;
  compatible: string;
  version: string;
  bundle: { file: string; sha256: string; size: number; format: 'verity' };
  built: string;
  imageKey: string;
  layers: { name: string; key: string }[];
  /** The bundle's SBOMs (beside it): the packages of the slot image it installs. */
  sboms: { spdx: string; cyclonedx: string };
}

export function raucManifest(o: { compatible: string; version: string; build: string; description: string }): string {
  return `[update]\ncompatible=${o.compatible}\nversion=${o.version}\ndescription=${o.description}\nbuild=${o.build}\n\n[bundle]\nformat=verity\n\n[image.rootfs]\nfilename=rootfs.ext4\n`;
}

export interface BundleResult {
  bundle: string;
  manifest: string;
  release: ReleaseManifest;
  sboms: SbomFiles;
}

export async function buildBundle(
  executor: Executor,
  system: System,
  image: ImageBuild,
  keys: SigningPair,
  options: { version: string; compress: boolean; sourceDateEpoch: number },
): Promise<BundleResult> {
  const out = image.outputs.dir;
  const work = path.join(out, 'work', `bundle~${hostname()}~${process.pid}~${randomBytes(4).toString('hex')}`);
  const content = path.join(work, 'content');
  await mkdir(content, { recursive: true });
  onCleanup(() => executor.exec([ROOTFS_TOOL, 'remove', work]).catch(() => undefined));
  const compatible = system.bundle.compatible ?? system.name;
  const slot = image.layout.partitions.find((p) => p.role === 'rootfs-a')!;
  const vars = { SOURCE_DATE_EPOCH: String(options.sourceDateEpoch), LC_ALL: 'C.UTF-8' };
  await executor.exec([IMAGE_TOOL, 'extract', image.outputs.image, String(slot.start), String(slot.size), path.join(content, 'rootfs.ext4')], { env: vars });
  await writeFile(path.join(content, 'manifest.raucm'), raucManifest({ compatible, version: options.version, build: image.key, description: `${system.name} ${options.version}` }));
  const tmpBundle = path.join(work, 'system.raucb');
  let log = '';
  try {
    await executor.exec([IMAGE_TOOL, 'bundle', content, keys.cert, keys.key, tmpBundle, options.compress ? 'yes' : 'no'], { env: vars, output: (c) => (log += c.toString()) });
  } catch {
    throw new UserError(`signing the bundle failed:\n${log.trim().split('\n').slice(-10).join('\n')}`);
  }
  const bundle = path.join(out, 'system.raucb');
  const manifest = path.join(out, 'system.raucb.json');
  const size = (await stat(tmpBundle)).size;
  const sha256 = await sha256File(tmpBundle);
  const info = image.info!;
  const release: ReleaseManifest = {
    system: system.name,
    compatible,
    version: options.version,
    bundle: { file: 'system.raucb', sha256, size, format: 'verity' },
    built: new Date().toISOString(),
    imageKey: image.key,
    layers: info.layers,
    sboms: { spdx: 'system.raucb.spdx.json', cyclonedx: 'system.raucb.cdx.json' },
  };
  await rename(tmpBundle, bundle);
  // The bundle installs the image's slot: its SBOM names the same packages.
  const subject = { file: 'system.raucb', sha256, kind: 'bundle' as const, system: system.name, version: options.version, architecture: system.architecture, sourceDateEpoch: options.sourceDateEpoch };
  const sboms = await writeSboms(bundle, subject, info.packages);
  const tmpManifest = path.join(work, 'release.json');
  await writeFile(tmpManifest, `${JSON.stringify(release, null, 2)}\n`);
  await rename(tmpManifest, manifest);
  return { bundle, manifest, release, sboms };
}
