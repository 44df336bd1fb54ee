/**
 * The Debian packages a layer holds, recorded when the layer is finished: the worker's
 * `rootfs inventory` (dpkg's database, apt's lists, the shared package cache, copyright files)
 * kept beside the layer as `layers/<key>.packages.json`. Image, bundle, SBOM, lock and diff all
 * read this one record.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { UserError } from '../errors.js';
import type { LayerCache } from '../engine/cache.js';

export interface InstalledPackage {
  name: string;
  version: string;
  architecture: string;
  /** The source package and its version (they differ from the binary's for binNMUs). */
  source: string;
  sourceVersion: string;
  /** sha256 of the .deb it was installed from, when apt's lists or the package cache knew it. */
  sha256?: string;
  /** License short names its machine-readable copyright file states (Debian's names, not SPDX). */
  licenses: string[];
}

/** The packages of a finished layer, plus the layer that first installed each (by name). */
export interface LayerPackages {
  layer: string;
  key: string;
  packages: InstalledPackage[];
}

export const PACKAGES_ARTIFACT = 'packages.json';

/** Parses `rootfs inventory` output: name, version, arch, source, source version, sha256 or -, licenses joined by | or -. */
export function parseInventory(tsv: string): InstalledPackage[] {
  const packages: InstalledPackage[] = [];
  for (const line of tsv.split('\n')) {
    if (!line.trim()) continue;
    const [name, version, architecture, source, sourceVersion, sha256, licenses] = line.split('\t');
    if (!name || !version || !architecture) throw new Error(`package inventory: malformed line ${JSON.stringify(line)}`);
    packages.push({
      name,
      version,
      architecture,
      source: source || name,
      sourceVersion: sourceVersion || version,
      ...(sha256 && sha256 !== '-' ? { sha256 } : {}),
      licenses: licenses && licenses !== '-' ? licenses.split('|').filter(Boolean) : [],
    });
  }
  return packages.sort(byIdentity);
}

export function packageId(p: Pick<InstalledPackage, 'name' | 'architecture'>): string {
  return `${p.name}:${p.architecture}`;
}

function byIdentity(a: InstalledPackage, b: InstalledPackage): number {
  return packageId(a) < packageId(b) ? -1 : packageId(a) > packageId(b) ? 1 : 0;
}

/**
 * Fills checksums the inventory could not find from the layer below (same package, same version:
 * the same .deb), e.g. when this layer ran no package step and so has no apt lists.
 */
export function inheritChecksums(packages: InstalledPackage[], below: InstalledPackage[]): InstalledPackage[] {
  const known = new Map(below.filter((p) => p.sha256).map((p) => [`${packageId(p)}=${p.version}`, p.sha256!]));
  return packages.map((p) => (p.sha256 || !known.has(`${packageId(p)}=${p.version}`) ? p : { ...p, sha256: known.get(`${packageId(p)}=${p.version}`) }));
}

/** Records a finished layer's packages beside it (complete or not at all). */
export async function recordPackages(cache: LayerCache, key: string, packages: InstalledPackage[]): Promise<void> {
  const temp = cache.tempDerived(key, PACKAGES_ARTIFACT);
  await writeFile(temp, `${JSON.stringify(packages, null, 1)}\n`);
  await cache.commitDerived(key, PACKAGES_ARTIFACT, temp);
}

/** A finished layer's packages; undefined when the record is missing (a layer made by an older bakery). */
export async function readPackages(cache: LayerCache, key: string): Promise<InstalledPackage[] | undefined> {
  try {
    return JSON.parse(await readFile(cache.derivedPath(key, PACKAGES_ARTIFACT), 'utf8')) as InstalledPackage[];
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * The packages of a system's root filesystem, each attributed to the lowest layer of the chain
 * that has it at that version: what a release note says came from the platform or the product.
 */
export async function systemPackages(cache: LayerCache, layers: { name: string; key: string }[]): Promise<(InstalledPackage & { layer: string })[]> {
  const perLayer: InstalledPackage[][] = [];
  for (const l of layers) {
    const packages = await readPackages(cache, l.key);
    if (!packages) throw new UserError(`layer ${l.name} (${l.key.slice(0, 12)}) has no package record: it was built by an older bakery`, 'remove it with `bakery cache clean --all` and build again');
    perLayer.push(packages);
  }
  const top = perLayer.at(-1) ?? [];
  return top.map((p) => {
    const index = perLayer.findIndex((ps) => ps.some((q) => packageId(q) === packageId(p) && q.version === p.version));
    return { ...p, layer: layers[index === -1 ? layers.length - 1 : index]!.name };
  });
}

/** Package URL (purl) of a Debian binary package (':' needs no escaping in a purl). */
export function purl(p: InstalledPackage, distro = 'debian'): string {
  const enc = (s: string) => encodeURIComponent(s).replace(/%3A/gi, ':');
  return `pkg:deb/${distro}/${enc(p.name)}@${enc(p.version)}?arch=${enc(p.architecture)}`;
}
