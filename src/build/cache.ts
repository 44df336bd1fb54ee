/** Use cases on the layer cache: list it, clean it, keep it under its cap after a build. */
import { rm } from 'node:fs/promises';
import type { Project } from '../config/project.js';
import { parseSize } from '../config/size.js';
import { LayerCache, type CacheEntry } from '../engine/cache.js';

export type ListedSnapshot = Omit<CacheEntry, 'dir'>;

/** Cached snapshots, most recently used first. */
export async function listCache(project: Project): Promise<ListedSnapshot[]> {
  return (await new LayerCache(project.cacheDir).list()).reverse().map(({ dir: _dir, ...e }) => e);
}

export interface CleanOptions {
  all: boolean;
  olderThanMs?: number;
  keepLast?: number;
  /** Also drop the downloaded packages. */
  debs: boolean;
}

export async function cleanCache(project: Project, options: CleanOptions): Promise<{ removed: { key: string; layer: string; architecture: string; size: number }[]; freedBytes: number }> {
  const cache = new LayerCache(project.cacheDir);
  const removed = await cache.clean({ all: options.all, olderThanMs: options.olderThanMs, keepLast: options.keepLast });
  if (options.debs || options.all) await rm(cache.debsDir, { recursive: true, force: true });
  return {
    removed: removed.map((e) => ({ key: e.key, layer: e.layer, architecture: e.architecture, size: e.size })),
    freedBytes: removed.reduce((s, e) => s + e.size, 0),
  };
}

/** After a build: evict least recently used layers above the configured cap, never the ones just used. */
export async function enforceCacheCap(project: Project, cache: LayerCache, keep: Set<string>, env: NodeJS.ProcessEnv): Promise<void> {
  const fromEnv = env.BAKERY_CACHE_MAX_SIZE;
  const cap = fromEnv ? parseSize(fromEnv) : project.settings.cache['max-size'];
  if (cap !== undefined) await cache.clean({ maxBytes: cap, keep });
}
