/**
 * The package lock: `bakery.lock` in the project, the exact Debian packages of each system's
 * layers (name, architecture, version, source, sha256 of the .deb), written by every build and
 * meant to be committed — a change of package versions shows in review. `--locked` turns it
 * around: a build whose packages would differ (the mirror moved on) is refused, naming them.
 */
import { existsSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../errors.js';
import { LayerCache } from '../engine/cache.js';
import { displayPath } from '../util/paths.js';
import type { SbomPackage } from './documents.js';
import { packageId, type InstalledPackage } from './packages.js';

export const LOCK_FILE = 'bakery.lock';
const LOCK_VERSION = 1;

export type LockedPackage = Pick<InstalledPackage, 'name' | 'architecture' | 'version' | 'source' | 'sha256'>;

export interface LockedSystem {
  architecture: string;
  layers: { layer: string; packages: LockedPackage[] }[];
}

export interface Lock {
  lockVersion: number;
  systems: Record<string, LockedSystem>;
}

export function lockPath(projectDir: string): string {
  return path.join(projectDir, LOCK_FILE);
}

export async function readLock(projectDir: string): Promise<Lock | undefined> {
  const file = lockPath(projectDir);
  if (!existsSync(file)) return undefined;
  let lock: Lock;
  try {
    lock = JSON.parse(await readFile(file, 'utf8')) as Lock;
  } catch (err) {
    throw new UserError(`${displayPath(file)}: not valid JSON (${(err as Error).message})`, 'restore it from version control, or delete it and build without --locked to write it again');
  }
  if (lock.lockVersion !== LOCK_VERSION || typeof lock.systems !== 'object' || lock.systems === null) {
    throw new UserError(`${displayPath(file)}: lockVersion ${JSON.stringify(lock.lockVersion)} is not one this bakery reads (expected ${LOCK_VERSION})`);
  }
  return lock;
}

/** A system's packages as the lock holds them, grouped by the layer that installs them. */
export function lockEntry(architecture: string, layers: string[], packages: SbomPackage[]): LockedSystem {
  return {
    architecture,
    layers: layers.map((layer) => ({
      layer,
      packages: packages
        .filter((p) => p.layer === layer)
        .map((p) => ({ name: p.name, architecture: p.architecture, version: p.version, source: p.source, ...(p.sha256 ? { sha256: p.sha256 } : {}) })),
    })),
  };
}

/** One package per line: the lock diffs well in review. */
function serialize(lock: Lock): string {
  const systems = Object.keys(lock.systems).sort().map((name) => {
    const s = lock.systems[name]!;
    const layers = s.layers.map((l) => {
      const packages = l.packages.map((p) => `            ${JSON.stringify(p)}`).join(',\n');
      return `        {\n          "layer": ${JSON.stringify(l.layer)},\n          "packages": ${packages ? `[\n${packages}\n          ]` : '[]'}\n        }`;
    });
    return `    ${JSON.stringify(name)}: {\n      "architecture": ${JSON.stringify(s.architecture)},\n      "layers": [\n${layers.join(',\n')}\n      ]\n    }`;
  });
  return `{\n  "lockVersion": ${LOCK_VERSION},\n  "systems": {\n${systems.join(',\n')}\n  }\n}\n`;
}

/** Records a system's packages in the lock (other systems kept); one writer at a time. */
export async function writeLockEntry(projectDir: string, cache: LayerCache, system: string, entry: LockedSystem): Promise<void> {
  const file = lockPath(projectDir);
  const unlock = await cache.lock(`lockfile-${Buffer.from(file).toString('hex').slice(-40)}`);
  try {
    const lock = (await readLock(projectDir).catch(() => undefined)) ?? { lockVersion: LOCK_VERSION, systems: {} };
    if (JSON.stringify(lock.systems[system]) === JSON.stringify(entry)) return;
    lock.systems[system] = entry;
    const temp = `${file}.tmp-${process.pid}`;
    await writeFile(temp, serialize(lock));
    await rename(temp, file);
  } finally {
    await unlock();
  }
}

/** The locked entry of a system, or why there is none. */
export async function lockedSystem(projectDir: string, system: string): Promise<LockedSystem> {
  const lock = await readLock(projectDir);
  const file = displayPath(lockPath(projectDir));
  if (!lock) throw new UserError(`--locked: ${file} does not exist`, 'build once without --locked: the build writes it (then commit it)');
  const entry = lock.systems[system];
  if (!entry) throw new UserError(`--locked: ${file} has no entry for system ${system}`, `build ${system} once without --locked to record its packages`);
  return entry;
}

export interface Drift {
  name: string;
  architecture: string;
  locked?: string;
  found?: string;
  layer: string;
}

function describeDrift(d: Drift): string {
  if (!d.found) return `${d.name}:${d.architecture} ${d.locked} (layer ${d.layer}): no longer there`;
  if (!d.locked) return `${d.name}:${d.architecture} ${d.found}: not in the lock`;
  return `${d.name}:${d.architecture} (layer ${d.layer}): locked ${d.locked}, now ${d.found}`;
}

/** Packages of a build that differ from the lock: version, presence, or the .deb's checksum. */
export function lockMismatches(entry: LockedSystem, packages: SbomPackage[]): Drift[] {
  const locked = new Map(entry.layers.flatMap((l) => l.packages.map((p) => [packageId(p), { ...p, layer: l.layer }] as const)));
  const built = new Map(packages.map((p) => [packageId(p), p]));
  const drift: Drift[] = [];
  for (const [id, p] of locked) {
    const b = built.get(id);
    if (!b) drift.push({ name: p.name, architecture: p.architecture, locked: p.version, layer: p.layer });
    else if (b.version !== p.version) drift.push({ name: p.name, architecture: p.architecture, locked: p.version, found: b.version, layer: p.layer });
    else if (b.sha256 && p.sha256 && b.sha256 !== p.sha256) drift.push({ name: p.name, architecture: p.architecture, locked: `${p.version} (sha256 ${p.sha256.slice(0, 12)}…)`, found: `${b.version} (sha256 ${b.sha256.slice(0, 12)}…)`, layer: p.layer });
  }
  for (const [id, b] of built) if (!locked.has(id)) drift.push({ name: b.name, architecture: b.architecture, found: b.version, layer: b.layer });
  return drift;
}

/** Parses `rootfs mirror-index` output: name → architecture → version. */
export function parseMirrorIndex(tsv: string): Map<string, string> {
  const versions = new Map<string, string>();
  for (const line of tsv.split('\n')) {
    const [name, version, architecture] = line.split('\t');
    if (name && version && architecture) versions.set(`${name}:${architecture}`, version);
  }
  return versions;
}

/**
 * Locked packages the mirror now offers at another version: what building `layers` again would
 * change. Packages the mirror does not list (another apt source installed them) are left to the
 * check after the build.
 */
export function mirrorDrift(entry: LockedSystem, layers: string[], offered: Map<string, string>): Drift[] {
  const drift: Drift[] = [];
  for (const l of entry.layers.filter((x) => layers.includes(x.layer))) {
    for (const p of l.packages) {
      const found = offered.get(packageId(p));
      if (found !== undefined && found !== p.version) drift.push({ name: p.name, architecture: p.architecture, locked: p.version, found, layer: l.layer });
    }
  }
  return drift;
}

/** The refusal of a locked build, naming each package (the first 30). */
export function refuseDrift(what: string, drift: Drift[], projectDir: string): never {
  const lines = drift.slice(0, 30).map((d) => `  ${describeDrift(d)}`);
  if (drift.length > 30) lines.push(`  … and ${drift.length - 30} more`);
  throw new UserError(
    `--locked: ${what} (${drift.length} package${drift.length === 1 ? '' : 's'}):\n${lines.join('\n')}`,
    `rebuild from a mirror that serves the locked versions (a snapshot mirror: [bootstrap] mirror or BAKERY_MIRROR), or build without --locked to update ${displayPath(lockPath(projectDir))}`,
  );
}
