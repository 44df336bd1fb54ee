import { rm } from 'node:fs/promises';
import type { Project } from '../../config/project.js';
import { formatSize, parseSize } from '../../config/size.js';
import { LayerCache } from '../../engine/cache.js';
import { UsageError } from '../../errors.js';
import type { CommandRun } from '../command.js';
import { projectFor } from '../context.js';

type Args = { all: boolean; 'older-than'?: string; 'keep-last'?: number; debs: boolean };

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([smhdw])$/.exec(text.trim());
  return m ? Number(m[1]) * UNIT_MS[m[2]!]! : undefined;
}

/** After a build: evict least recently used layers above the configured cap. */
export async function enforceCacheCap(project: Project, cache: LayerCache, keep: Set<string>): Promise<void> {
  const fromEnv = process.env.BAKERY_CACHE_MAX_SIZE;
  const cap = fromEnv ? parseSize(fromEnv) : project.settings.cache['max-size'];
  if (cap !== undefined) await cache.clean({ maxBytes: cap, keep });
}

export async function run({ args, io }: CommandRun<Args>) {
  const olderThan = args['older-than'];
  const olderThanMs = olderThan === undefined ? undefined : parseDuration(olderThan);
  if (olderThan !== undefined && olderThanMs === undefined) {
    throw new UsageError(`--older-than: expected a duration like 30m, 12h, 7d or 2w, got "${olderThan}"`);
  }
  if (args['keep-last'] !== undefined && (!Number.isInteger(args['keep-last']) || args['keep-last'] < 0)) {
    throw new UsageError(`--keep-last: expected a whole number, got ${args['keep-last']}`);
  }
  if (!args.all && olderThanMs === undefined && args['keep-last'] === undefined && !args.debs) {
    throw new UsageError('say what to remove: --all, --older-than <duration>, --keep-last <n> or --debs');
  }
  const project = await projectFor(args, io);
  const cache = new LayerCache(project.cacheDir);
  const removed = await cache.clean({ all: args.all, olderThanMs, keepLast: args['keep-last'] });
  if (args.debs || args.all) await rm(cache.debsDir, { recursive: true, force: true });
  const freed = removed.reduce((s, e) => s + e.size, 0);
  if (!args.json) io.stdout.write(`removed ${removed.length} layers, ${formatSize(freed)}${args.debs || args.all ? ' and the package cache' : ''}\n`);
  return { removed: removed.map((e) => ({ key: e.key, layer: e.layer, architecture: e.architecture, size: e.size })), freedBytes: freed };
}
