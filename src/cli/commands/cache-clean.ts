import { formatSize } from '../../config/size.js';
import { cleanCache } from '../../build/cache.js';
import { UsageError } from '../../errors.js';
import type { CommandRun } from '../command.js';
import { projectFor } from '../context.js';

type Args = { all: boolean; 'older-than'?: string; 'keep-last'?: number; debs: boolean };

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([smhdw])$/.exec(text.trim());
  return m ? Number(m[1]) * UNIT_MS[m[2]!]! : undefined;
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
  const result = await cleanCache(project, { all: args.all, olderThanMs, keepLast: args['keep-last'], debs: args.debs });
  if (!args.json) io.stdout.write(`removed ${result.removed.length} layers, ${formatSize(result.freedBytes)}${args.debs || args.all ? ' and the package cache' : ''}\n`);
  return result;
}
