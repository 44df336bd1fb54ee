/**
 * What changed between two builds of a system, for a release note or a delta update: packages
 * added, removed, upgraded and downgraded, grouped by the layer that installs them, and which
 * layers were rebuilt.
 */
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../errors.js';
import type { BuildInfo } from '../image/build-image.js';
import { displayPath } from '../util/paths.js';
import { packageId } from './packages.js';
import type { SbomPackage } from './documents.js';
import { compareDebianVersions } from './versions.js';

export interface PackageChange {
  name: string;
  architecture: string;
  from?: string;
  to?: string;
}

export interface LayerDiff {
  layer: string;
  /** The layer's key changed: it was rebuilt (or its content came from other sources). */
  rebuilt: boolean;
  added: PackageChange[];
  removed: PackageChange[];
  upgraded: PackageChange[];
  downgraded: PackageChange[];
}

export interface SystemDiff {
  system: string;
  from: { version: string; imageKey: string; sha256?: string };
  to: { version: string; imageKey: string; sha256?: string };
  identical: boolean;
  layers: LayerDiff[];
}

export type BuildRecord = Pick<BuildInfo, 'system' | 'version' | 'imageKey' | 'layers' | 'packages'> & Partial<Pick<BuildInfo, 'sha256'>>;

export function diffBuilds(a: BuildRecord, b: BuildRecord): SystemDiff {
  const before = new Map(a.packages.map((p) => [packageId(p), p]));
  const after = new Map(b.packages.map((p) => [packageId(p), p]));
  const layers = new Map<string, LayerDiff>();
  const order = [...new Set([...b.layers.map((l) => l.name), ...a.layers.map((l) => l.name)])];
  const keyOf = (record: BuildRecord, name: string) => record.layers.find((l) => l.name === name)?.key;
  for (const name of order) {
    layers.set(name, { layer: name, rebuilt: keyOf(a, name) !== keyOf(b, name), added: [], removed: [], upgraded: [], downgraded: [] });
  }
  const change = (p: SbomPackage, from?: string, to?: string): PackageChange => ({ name: p.name, architecture: p.architecture, ...(from ? { from } : {}), ...(to ? { to } : {}) });
  for (const [id, p] of after) {
    const old = before.get(id);
    const layer = layers.get(p.layer)!;
    if (!old) layer.added.push(change(p, undefined, p.version));
    else if (old.version !== p.version) (compareDebianVersions(p.version, old.version) > 0 ? layer.upgraded : layer.downgraded).push(change(p, old.version, p.version));
  }
  for (const [id, p] of before) if (!after.has(id)) layers.get(p.layer)!.removed.push(change(p, p.version));
  const list = [...layers.values()];
  return {
    system: b.system,
    from: { version: a.version, imageKey: a.imageKey, ...(a.sha256 ? { sha256: a.sha256 } : {}) },
    to: { version: b.version, imageKey: b.imageKey, ...(b.sha256 ? { sha256: b.sha256 } : {}) },
    identical: a.imageKey === b.imageKey && list.every((l) => !l.rebuilt),
    layers: list,
  };
}

/**
 * The build records a path names: a `build-info.json`, a system's build directory, or a release
 * (its directory or `release.json`: one record per system).
 */
export async function readBuildRecords(given: string): Promise<BuildRecord[]> {
  let file = path.resolve(given);
  if (!existsSync(file)) throw new UsageError(`${given}: no such file or directory`, 'give a build-info.json, a build/<system> directory, or a release directory');
  if ((await stat(file)).isDirectory()) {
    if (existsSync(path.join(file, 'build-info.json'))) file = path.join(file, 'build-info.json');
    else if (existsSync(path.join(file, 'release.json'))) file = path.join(file, 'release.json');
    else throw new UsageError(`${given}: holds neither build-info.json nor release.json`);
  }
  let doc: { systems?: { system: string }[]; packages?: unknown };
  try {
    doc = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`${displayPath(file)}: not a bakery build record (${(err as Error).message})`);
  }
  if (Array.isArray(doc.systems)) {
    const records: BuildRecord[] = [];
    for (const s of doc.systems) records.push(...(await readBuildRecords(path.join(path.dirname(file), s.system, 'build-info.json'))));
    return records;
  }
  if (!Array.isArray(doc.packages)) throw new UsageError(`${displayPath(file)}: has no package list`, 'it was made by an older bakery; build it again');
  return [doc as unknown as BuildRecord];
}

/** Pairs the systems of two sets of records by name. */
export function diffRecords(a: BuildRecord[], b: BuildRecord[]): SystemDiff[] {
  const common = b.filter((r) => a.some((q) => q.system === r.system));
  if (common.length === 0) {
    throw new UsageError(`the two builds share no system (${a.map((r) => r.system).join(', ')} vs ${b.map((r) => r.system).join(', ')})`);
  }
  return common.map((r) => diffBuilds(a.find((q) => q.system === r.system)!, r));
}

/** The diff as a human reads it. */
export function diffLines(diffs: SystemDiff[]): string {
  const out: string[] = [];
  for (const d of diffs) {
    out.push(`${d.system}: ${d.from.version} → ${d.to.version}${d.identical ? ' (identical)' : ''}`);
    for (const l of d.layers) {
      const changes = l.added.length + l.removed.length + l.upgraded.length + l.downgraded.length;
      if (!l.rebuilt && changes === 0) continue;
      out.push(`  layer ${l.layer}: ${l.rebuilt ? 'rebuilt' : 'same'}${changes ? `, ${changes} package change${changes === 1 ? '' : 's'}` : ''}`);
      for (const c of l.upgraded) out.push(`    ↑ ${c.name}:${c.architecture} ${c.from} → ${c.to}`);
      for (const c of l.downgraded) out.push(`    ↓ ${c.name}:${c.architecture} ${c.from} → ${c.to}`);
      for (const c of l.added) out.push(`    + ${c.name}:${c.architecture} ${c.to}`);
      for (const c of l.removed) out.push(`    - ${c.name}:${c.architecture} ${c.from}`);
    }
  }
  return `${out.join('\n')}\n`;
}
