/**
 * File records: what each snapshot wrote (the worker's `rootfs manifest` of its directory, made
 * when the snapshot is sealed, so a cached snapshot is never read again), merged up the chain as
 * overlayfs merges the directories — a whiteout deletes, an opaque directory hides what is below.
 * The result names every file of the root filesystem with the layer that last wrote it: what
 * `bakery diff` compares.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { LayerCache } from '../engine/cache.js';

export interface FileEntry {
  path: string;
  /** find's %y: f file, d directory, l link, c/b device, p fifo, s socket. */
  type: string;
  mode: string;
  uid: number;
  gid: number;
  size: number;
  /** sha256 of a regular file's content. */
  sha256?: string;
  /** A symbolic link's target. */
  target?: string;
}

/** A snapshot's own entries, and what it removes from the snapshots below. */
export interface SnapshotFiles {
  entries: FileEntry[];
  /** Paths deleted (overlayfs whiteouts). */
  whiteouts: string[];
  /** Directories recreated: nothing below them shows through. */
  opaque: string[];
}

export const FILES_ARTIFACT = 'files.json.gz';

/**
 * Parses the worker's manifest of a snapshot (`rootfs seal UPPER MANIFEST`): NUL-separated
 * records `E type mode uid gid size path target`, `W path`, `O path`; and beside it `sha256sum -z`
 * of the regular files.
 */
export function parseManifest(data: Buffer, sums: Buffer): SnapshotFiles {
  const hashes = new Map<string, string>();
  for (const line of sums.toString('utf8').split('\0')) {
    if (line.length > 66) hashes.set(line.slice(66).replace(/^\.\//, ''), line.slice(0, 64));
  }
  const fields = data.toString('utf8').split('\0');
  const out: SnapshotFiles = { entries: [], whiteouts: [], opaque: [] };
  for (let i = 0; i < fields.length - 1; ) {
    const kind = fields[i++];
    if (kind === 'W') out.whiteouts.push(fields[i++]!);
    else if (kind === 'O') out.opaque.push(fields[i++]!);
    else if (kind === 'E') {
      const [type, mode, uid, gid, size, p, target] = fields.slice(i, i + 7) as [string, string, string, string, string, string, string];
      i += 7;
      const sha256 = type === 'f' ? hashes.get(p) : undefined;
      out.entries.push({ path: p, type, mode, uid: Number(uid), gid: Number(gid), size: type === 'f' ? Number(size) : 0, ...(sha256 ? { sha256 } : {}), ...(target ? { target } : {}) });
    } else throw new Error(`file manifest: unexpected record ${JSON.stringify(kind)}`);
  }
  out.entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return out;
}

export async function recordFiles(cache: LayerCache, key: string, files: SnapshotFiles): Promise<void> {
  const temp = cache.tempDerived(key, FILES_ARTIFACT);
  await writeFile(temp, gzipSync(JSON.stringify(files)));
  await cache.commitDerived(key, FILES_ARTIFACT, temp);
}

export async function readSnapshotFiles(cache: LayerCache, key: string): Promise<SnapshotFiles | undefined> {
  try {
    return JSON.parse(gunzipSync(await readFile(cache.derivedPath(key, FILES_ARTIFACT))).toString('utf8')) as SnapshotFiles;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export type LayerFile = FileEntry & { layer: string };

/** Merges snapshots bottom to top as overlayfs does; undefined when one has no record. */
export async function systemFiles(cache: LayerCache, chain: { layer: string; snapshots: string[] }[]): Promise<LayerFile[] | undefined> {
  const merged = new Map<string, LayerFile>();
  // Only a directory has entries below it to scan for (whiteouts are mostly single files).
  const removeTree = (dir: string, self: boolean) => {
    const was = merged.get(dir);
    if (self) merged.delete(dir);
    if (was?.type !== 'd') return;
    const prefix = `${dir}/`;
    for (const p of [...merged.keys()]) if (p.startsWith(prefix)) merged.delete(p);
  };
  for (const { layer, snapshots } of chain) {
    for (const key of snapshots) {
      const files = await readSnapshotFiles(cache, key);
      if (!files) return undefined;
      for (const w of files.whiteouts) removeTree(w, true);
      for (const o of files.opaque) removeTree(o, false);
      for (const e of files.entries) {
        const below = merged.get(e.path);
        // A directory that only holds changes below it is not a change of the directory.
        if (below && e.type === 'd' && below.type === 'd' && below.mode === e.mode && below.uid === e.uid && below.gid === e.gid) continue;
        merged.set(e.path, { ...e, layer });
      }
    }
  }
  return [...merged.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** The file list of a build, as kept beside its image: one JSON object per line, gzip. */
export async function writeFileList(file: string, files: LayerFile[]): Promise<void> {
  await writeFile(file, gzipSync(files.map((f) => JSON.stringify(f)).join('\n') + '\n', { level: 9 }));
}

export async function readFileList(file: string): Promise<LayerFile[]> {
  return gunzipSync(await readFile(file)).toString('utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as LayerFile);
}
