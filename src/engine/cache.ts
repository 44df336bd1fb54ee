/**
 * The layer cache: one entry per snapshot of a layer build (its bootstrap, each recipe applied,
 * the finished layer) — `layers/<key>/` (what the step changed: an overlayfs upper directory, or
 * the whole tree for a bootstrap) + `layers/<key>.json` (metadata). A root filesystem is the
 * chain of its snapshots mounted as one overlay, so nothing is packed or unpacked. An entry is
 * trusted only when its metadata exists; the directory is renamed into place first, metadata
 * last, so an interrupted build never leaves an entry a later build would trust. Per-key lock
 * files keep two builds of the same layer from racing; the second one waits and then finds it.
 *
 * Beside a layer live artifacts made from it (`layers/<key>.<name>`, e.g. the ext4 slot image of
 * a system layer): they go when their layer goes, and count toward its size.
 */
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';

export interface CacheEntry {
  key: string;
  layer: string;
  /** What made the snapshot: `bootstrap`, `recipe <name>` or `finish` (the complete layer). */
  step: string;
  architecture: string;
  parentKey?: string;
  /** Bytes on disk of the snapshot's directory. */
  size: number;
  /** For a finished layer: the size of its whole root filesystem (content and inodes). */
  contentBytes?: number;
  created: string;
  lastUsed: string;
  buildSeconds: number;
  dir: string;
  /** Bytes on disk of the artifacts made from this layer (sparse files count what they use). */
  derivedBytes?: number;
}

function processGone(host: string | undefined, pid: string | undefined): boolean {
  if (host !== hostname() || !pid) return false;
  try {
    process.kill(Number(pid), 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

export class LayerCache {
  readonly layersDir: string;
  readonly tmpDir: string;
  readonly workDir: string;
  readonly debsDir: string;
  private readonly locksDir: string;

  constructor(readonly dir: string) {
    this.layersDir = path.join(dir, 'layers');
    this.tmpDir = path.join(dir, 'tmp');
    this.workDir = path.join(dir, 'work');
    this.debsDir = path.join(dir, 'debs');
    this.locksDir = path.join(dir, 'locks');
  }

  /** Creates the directories (as the invoking user, so that it can rename and delete in them). */
  async init(): Promise<void> {
    for (const d of [this.layersDir, this.tmpDir, this.workDir, this.debsDir, this.locksDir]) await mkdir(d, { recursive: true });
  }

  snapshotDir(key: string): string {
    return path.join(this.layersDir, key);
  }

  private metaPath(key: string): string {
    return path.join(this.layersDir, `${key}.json`);
  }

  /** The entry if it is complete; marks it used. */
  async lookup(key: string, touch = true): Promise<CacheEntry | undefined> {
    const entry = await this.read(key);
    if (entry && touch) {
      entry.lastUsed = new Date().toISOString();
      await this.writeMeta(entry);
    }
    return entry;
  }

  private async read(key: string): Promise<CacheEntry | undefined> {
    try {
      const entry = JSON.parse(await readFile(this.metaPath(key), 'utf8')) as CacheEntry;
      if (!(await stat(this.snapshotDir(key))).isDirectory()) return undefined;
      return { ...entry, dir: this.snapshotDir(key) };
    } catch {
      return undefined;
    }
  }

  private async writeMeta(entry: CacheEntry): Promise<void> {
    const tmp = this.tempName(entry.key, 'json');
    const { dir: _dir, ...meta } = entry;
    await writeFile(tmp, `${JSON.stringify(meta, null, 2)}\n`);
    await rename(tmp, this.metaPath(entry.key));
  }

  /** A work directory for building `key`, named after its owner so leftovers can be found. */
  workPath(key: string): string {
    return path.join(this.workDir, `${key}~${hostname()}~${process.pid}~${randomBytes(4).toString('hex')}`);
  }

  /** `<key>~<host>~<pid>~<random>.<ext>`: the owner is known, so leftovers can be collected. */
  private tempName(key: string, ext: string): string {
    return path.join(this.tmpDir, `${key}~${hostname()}~${process.pid}~${randomBytes(4).toString('hex')}.${ext}`);
  }

  /**
   * Moves a built snapshot directory (on the cache's filesystem) into place. If another build
   * committed the same key meanwhile, that one is kept and `built` is removed.
   */
  async commit(entry: Omit<CacheEntry, 'size' | 'dir' | 'created' | 'lastUsed'>, built: string): Promise<CacheEntry> {
    const existing = await this.read(entry.key);
    if (existing) {
      await rm(built, { recursive: true, force: true });
      return existing;
    }
    const dir = this.snapshotDir(entry.key);
    await rm(dir, { recursive: true, force: true }); // a directory without metadata: an interrupted commit
    await rename(built, dir);
    const now = new Date().toISOString();
    const full: CacheEntry = { ...entry, size: await diskBytes(dir), created: now, lastUsed: now, dir };
    await this.writeMeta(full);
    return full;
  }

  /** Waits for and takes the lock of a key; returns its release. Stale locks (dead pid) are taken over. */
  async lock(key: string, onWait?: () => void): Promise<() => Promise<void>> {
    const file = path.join(this.locksDir, `${key}.lock`);
    let waited = false;
    for (;;) {
      try {
        const handle = await open(file, 'wx');
        await handle.writeFile(`${hostname()} ${process.pid}\n`);
        await handle.close();
        return async () => {
          await rm(file, { force: true });
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const [host, pid] = (await readFile(file, 'utf8').catch(() => '')).trim().split(' ');
      if (processGone(host, pid)) {
        await rm(file, { force: true });
        continue;
      }
      if (!waited) onWait?.();
      waited = true;
      await new Promise((r) => setTimeout(r, 300));
    }
  }

  async list(): Promise<CacheEntry[]> {
    if (!existsSync(this.layersDir)) return [];
    const files = await readdir(this.layersDir);
    const keys = files.filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5));
    const entries = (await Promise.all(keys.map((k) => this.read(k)))).filter((e): e is CacheEntry => e !== undefined);
    for (const e of entries) {
      let bytes = 0;
      for (const f of this.derivedFiles(files, e.key)) bytes += await stat(path.join(this.layersDir, f)).then((st) => st.blocks * 512, () => 0);
      e.derivedBytes = bytes;
    }
    return entries.sort((a, b) => a.lastUsed.localeCompare(b.lastUsed));
  }

  private derivedFiles(files: string[], key: string): string[] {
    return files.filter((f) => f.startsWith(`${key}.`) && f !== `${key}.json`);
  }

  async remove(key: string): Promise<void> {
    await rm(this.metaPath(key), { force: true });
    await rm(this.snapshotDir(key), { recursive: true, force: true });
    for (const f of this.derivedFiles(await readdir(this.layersDir).catch(() => []), key)) await rm(path.join(this.layersDir, f), { force: true });
  }

  /** Where an artifact made from layer `key` is kept; it exists only once complete. */
  derivedPath(key: string, name: string): string {
    return path.join(this.layersDir, `${key}.${name}`);
  }

  /** A temporary path for making such an artifact; then `commitDerived`. */
  tempDerived(key: string, name: string): string {
    return this.tempName(key, name);
  }

  async commitDerived(key: string, name: string, temp: string): Promise<string> {
    const final = this.derivedPath(key, name);
    await rename(temp, final);
    return final;
  }

  /**
   * Removes entries by age or count (least recently used first) and leftovers of interrupted
   * builds. `keep` keys are never removed (the layers of the build in progress).
   */
  async clean(options: { all?: boolean; olderThanMs?: number; keepLast?: number; maxBytes?: number; keep?: Set<string> }): Promise<CacheEntry[]> {
    const entries = await this.list();
    const removable = entries.filter((e) => !options.keep?.has(e.key));
    const doomed = new Set<CacheEntry>();
    const now = Date.now();
    if (options.all) removable.forEach((e) => doomed.add(e));
    if (options.olderThanMs !== undefined) removable.filter((e) => now - Date.parse(e.lastUsed) > options.olderThanMs!).forEach((e) => doomed.add(e));
    if (options.keepLast !== undefined) removable.slice(0, Math.max(0, removable.length - options.keepLast)).forEach((e) => doomed.add(e));
    if (options.maxBytes !== undefined) {
      const bytes = (e: CacheEntry) => e.size + (e.derivedBytes ?? 0);
      let total = entries.reduce((sum, e) => sum + bytes(e), 0);
      for (const e of removable) {
        if (total <= options.maxBytes) break;
        doomed.add(e);
        total -= bytes(e);
      }
    }
    for (const e of doomed) await this.remove(e.key);
    await this.removeLeftovers();
    return [...doomed];
  }

  /** Temporary files of builds whose process is gone. */
  async removeLeftovers(): Promise<void> {
    if (!existsSync(this.tmpDir)) return;
    for (const name of await readdir(this.tmpDir)) {
      const [, host, pid] = name.split('~');
      if (processGone(host, pid)) await rm(path.join(this.tmpDir, name), { force: true });
    }
  }

  /** Work trees of builds whose process is gone (they hold root-owned files: the worker removes them). */
  async staleWorkTrees(): Promise<string[]> {
    if (!existsSync(this.workDir)) return [];
    return (await readdir(this.workDir))
      .filter((name) => {
        const [, host, pid] = name.split('~');
        return processGone(host, pid);
      })
      .map((name) => path.join(this.workDir, name));
  }
}

/** Bytes a directory tree uses on disk (du: fast, and it counts what sparse files really use). */
function diskBytes(dir: string): Promise<number> {
  return new Promise((resolve) => {
    execFile('du', ['-s', '-B1', dir], (err, stdout) => resolve(err ? 0 : Number(stdout.split('\t')[0]) || 0));
  });
}
