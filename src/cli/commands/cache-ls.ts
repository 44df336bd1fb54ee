import { formatSize } from '../../config/size.js';
import { listCache } from '../../build/cache.js';
import type { CommandRun } from '../command.js';
import { projectFor } from '../context.js';

export async function run({ args, io }: CommandRun<object>) {
  const project = await projectFor(args, io);
  const entries = await listCache(project);
  if (!args.json) {
    if (entries.length === 0) io.stdout.write(`no cached layers in ${project.cacheDir}\n`);
    else {
      const rows = entries.map((e) => [e.key.slice(0, 12), `${e.layer} (${e.architecture})`, e.step, formatSize(e.size + (e.derivedBytes ?? 0)), e.lastUsed.replace('T', ' ').slice(0, 19)]);
      const header = ['KEY', 'LAYER', 'STEP', 'SIZE', 'LAST USED'];
      const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
      for (const row of [header, ...rows]) io.stdout.write(`${row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()}\n`);
      io.stdout.write(`${entries.length} snapshots, ${formatSize(entries.reduce((s, e) => s + e.size + (e.derivedBytes ?? 0), 0))} in ${project.cacheDir}\n`);
    }
  }
  return { dir: project.cacheDir, layers: entries };
}
