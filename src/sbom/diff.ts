/**
 * What changed between two builds of a system, for a release note or a delta update: packages
 * added, removed, upgraded and downgraded, grouped by the layer that installs them; files added,
 * removed and changed, by the layer that last wrote them; and which layers were rebuilt.
 */
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../errors.js';
import type { BuildInfo } from '../image/build-image.js';
import { displayPath } from '../util/paths.js';
import { packageId } from './packages.js';
import type { SbomPackage } from './documents.js';
import { readFileList, type LayerFile } from './files.js';
import { compareDebianVersions } from './versions.js';

export interface PackageChange {
  name: string;
  architecture: string;
  from?: string;
  to?: string;
}

export interface FileChanges {
  added: string[];
  removed: string[];
  /** Content, type, mode, owner or link target changed. */
  changed: string[];
}

export interface LayerDiff {
  layer: string;
  /** The layer's key changed: it was rebuilt (or its content came from other sources). */
  rebuilt: boolean;
  added: PackageChange[];
  removed: PackageChange[];
  upgraded: PackageChange[];
  downgraded: PackageChange[];
  /** Files of the root filesystem, by the layer that last wrote them (when both builds have file lists). */
  files?: FileChanges;
}

export interface SystemDiff {
  system: string;
  from: { version: string; imageKey: string; sha256?: string };
  to: { version: string; imageKey: string; sha256?: string };
  identical: boolean;
  layers: LayerDiff[];
}

export type BuildRecord = Pick<BuildInfo, 'system' | 'version' | 'imageKey' | 'layers' | 'packages'> & Partial<Pick<BuildInfo, 'sha256'>> & {
  /** The root filesystem's files, when the build kept its file list. */
  fileList?: LayerFile[];
};

function sameFile(a: LayerFile, b: LayerFile): boolean {
  return a.type === b.type && a.mode === b.mode && a.uid === b.uid && a.gid === b.gid && a.sha256 === b.sha256 && a.target === b.target;
}

function diffFiles(layers: Map<string, LayerDiff>, a: LayerFile[], b: LayerFile[]): void {
  for (const l of layers.values()) l.files = { added: [], removed: [], changed: [] };
  const before = new Map(a.map((f) => [f.path, f]));
  const after = new Map(b.map((f) => [f.path, f]));
  const into = (layer: string) => (layers.get(layer) ?? [...layers.values()].at(-1)!).files!;
  for (const [p, f] of after) {
    const old = before.get(p);
    if (!old) into(f.layer).added.push(p);
    else if (!sameFile(old, f)) into(f.layer).changed.push(p);
  }
  for (const [p, f] of before) if (!after.has(p)) into(f.layer).removed.push(p);
}

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
    const layer = layers.get(p.layer) ?? [...layers.values()].at(-1)!;
    if (!old) layer.added.push(change(p, undefined, p.version));
    else if (old.version !== p.version) (compareDebianVersions(p.version, old.version) > 0 ? layer.upgraded : layer.downgraded).push(change(p, old.version, p.version));
  }
  for (const [id, p] of before) if (!after.has(id)) (layers.get(p.layer) ?? [...layers.values()].at(-1)!).removed.push(change(p, p.version));
  if (a.fileList && b.fileList) diffFiles(layers, a.fileList, b.fileList);
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
  const record = doc as unknown as BuildRecord & { files?: string };
  const list = record.files ? path.join(path.dirname(file), record.files) : undefined;
  if (list && existsSync(list)) record.fileList = await readFileList(list);
  return [record];
}

/** Pairs the systems of two sets of records by name. */
export function diffRecords(a: BuildRecord[], b: BuildRecord[]): SystemDiff[] {
  const common = b.filter((r) => a.some((q) => q.system === r.system));
  if (common.length === 0) {
    throw new UsageError(`the two builds share no system (${a.map((r) => r.system).join(', ')} vs ${b.map((r) => r.system).join(', ')})`);
  }
  return common.map((r) => diffBuilds(a.find((q) => q.system === r.system)!, r));
}

const FILES_SHOWN = 10;

/** The diff as a human reads it. */
export function diffLines(diffs: SystemDiff[]): string {
  const out: string[] = [];
  for (const d of diffs) {
    out.push(`${d.system}: ${d.from.version} → ${d.to.version}${d.identical ? ' (identical)' : ''}`);
    for (const l of d.layers) {
      const changes = l.added.length + l.removed.length + l.upgraded.length + l.downgraded.length;
      const files = l.files ? l.files.added.length + l.files.removed.length + l.files.changed.length : 0;
      if (!l.rebuilt && changes === 0 && files === 0) continue;
      const counts = [changes ? `${changes} package change${changes === 1 ? '' : 's'}` : '', files ? `${files} file${files === 1 ? '' : 's'} changed` : ''].filter(Boolean);
      out.push(`  layer ${l.layer}: ${l.rebuilt ? 'rebuilt' : 'same'}${counts.map((c) => `, ${c}`).join('')}`);
      for (const c of l.upgraded) out.push(`    ↑ ${c.name}:${c.architecture} ${c.from} → ${c.to}`);
      for (const c of l.downgraded) out.push(`    ↓ ${c.name}:${c.architecture} ${c.from} → ${c.to}`);
      for (const c of l.added) out.push(`    + ${c.name}:${c.architecture} ${c.to}`);
      for (const c of l.removed) out.push(`    - ${c.name}:${c.architecture} ${c.from}`);
      if (l.files) {
        // Files: the first few of each kind (--json has them all).
        for (const [mark, paths] of [['+', l.files.added], ['-', l.files.removed], ['~', l.files.changed]] as const) {
          for (const p of paths.slice(0, FILES_SHOWN)) out.push(`    ${mark} /${p}`);
          if (paths.length > FILES_SHOWN) out.push(`    ${mark} … and ${paths.length - FILES_SHOWN} more`);
        }
      }
    }
    if (d.layers.every((l) => !l.files)) out.push('  (files not compared: a build without a file list)');
  }
  return `${out.join('\n')}\n`;
}
