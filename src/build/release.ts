/**
 * Use case: a release — for each system its image (with bmap and compressed copy when the system
 * makes one), its signed bundle and release manifest, the SBOMs of both, gathered in build/release/<version>/ with one
 * SHA256SUMS over everything. Keys and versions of every system are checked before any build; a
 * release whose images, version and certificate have not changed is left as it is.
 */
import { existsSync } from 'node:fs';
import { copyFile, link, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sha256File } from '../engine/hash.js';
import { findBootFlow } from '../targets/registry.js';
import { UsageError } from '../errors.js';
import { buildSystemBundle, checkBundle } from './bundle.js';
import { buildImage } from './image.js';
import { buildDir, type BuildSession } from './session.js';

export interface ReleaseFile {
  file: string;
  size: number;
  sha256: string;
}

export interface Release {
  version: string;
  dir: string;
  sums: string;
  /** True when the release was there already, made from the same images, version and certificates. */
  upToDate: boolean;
  systems: { system: string; compatible: string; imageKey: string; files: ReleaseFile[] }[];
}

/** A hard link where the file system allows one (images are large), else a copy. */
async function place(from: string, to: string): Promise<void> {
  await link(from, to).catch(() => copyFile(from, to));
}

export async function buildRelease(session: BuildSession, systemNames: string[], options: { version?: string }): Promise<Release> {
  const { project } = session;
  // Every system that can be built, unless named.
  const names = systemNames.length ? systemNames : [...project.systems.values()].filter((s) => { const t = project.targets.get(s.target); return t && findBootFlow(t); }).map((s) => s.name);
  if (names.length === 0) throw new UsageError('no system to release', `name systems from ${project.systemsFile}`);
  const checked = [];
  for (const name of names) checked.push(await checkBundle(session, name, options));
  const versions = [...new Set(checked.map((c) => c.version))];
  if (versions.length > 1) {
    throw new UsageError(`the systems have different versions (${checked.map((c) => `${c.system.name} ${c.version}`).join(', ')}): a release has one`, 'give it with --bundle-version, or release them one by one');
  }
  const version = versions[0]!;
  const dir = path.join(buildDir(project), 'release', version);

  // What the release is made of: each system's image and the certificate it is signed for.
  const inputs = [];
  for (const c of checked) {
    const image = await buildImage(session, c.system.name);
    inputs.push({ system: c.system.name, imageKey: image.key, cert: await sha256File(c.keys.cert) });
  }
  const stampFile = path.join(dir, 'release.json');
  if (existsSync(stampFile)) {
    const { inputs: before, ...previous } = JSON.parse(await readFile(stampFile, 'utf8')) as Release & { inputs: unknown };
    if (JSON.stringify(before) === JSON.stringify(inputs)) return { ...previous, dir, sums: path.join(dir, 'SHA256SUMS'), upToDate: true };
  }

  // Made beside the final directory, then moved into place: never half a release under its name.
  const work = `${dir}.tmp-${process.pid}`;
  await rm(work, { recursive: true, force: true });
  const systems: Release['systems'] = [];
  try {
    for (const c of checked) {
      // The images were built above: here they are found up to date.
      const built = await buildSystemBundle(session, c.system.name, { version, compress: true });
      const { image } = built;
      const target = path.join(work, c.system.name);
      await mkdir(target, { recursive: true });
      const sources = [
        image.outputs.image, image.outputs.bmap, image.outputs.compressed, image.outputs.buildInfo, image.outputs.spdx, image.outputs.cyclonedx,
        image.info?.files ? image.outputs.files : undefined,
        built.bundle, built.manifest, built.sboms.spdx, built.sboms.cyclonedx,
      ].filter((f): f is string => Boolean(f));
      const files: ReleaseFile[] = [];
      for (const source of sources) {
        const rel = path.join(c.system.name, path.basename(source));
        await place(source, path.join(work, rel));
        files.push({ file: rel, size: (await stat(source)).size, sha256: await sha256File(source) });
      }
      systems.push({ system: c.system.name, compatible: built.release.compatible, imageKey: image.key, files });
    }
    const sums = systems.flatMap((s) => s.files).map((f) => `${f.sha256}  ${f.file}\n`).join('');
    await writeFile(path.join(work, 'SHA256SUMS'), sums);
    const release = { version, dir, sums: path.join(dir, 'SHA256SUMS'), upToDate: false, systems };
    await writeFile(path.join(work, 'release.json'), `${JSON.stringify({ ...release, inputs }, null, 2)}\n`);
    await rm(dir, { recursive: true, force: true });
    await rename(work, dir);
    return release;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
