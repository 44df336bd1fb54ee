/** Human output shared by commands. */
import type { PlannedLayer } from '../build/layer.js';

/** One line per layer of a plan: name, short key (and whether the cache has it), what it applies. */
export function planLines(plan: (Pick<PlannedLayer, 'layer' | 'recipes'> & { key: string | null; cached?: boolean })[]): string {
  const width = Math.max(0, ...plan.map((p) => p.layer.length));
  return plan
    .map((p) => {
      const key = p.key === null ? '(key after keys)' : p.key.slice(0, 12);
      const cached = p.cached === undefined ? '' : p.cached ? '  cached' : '  build ';
      return `${p.layer.padEnd(width)}  ${key.padEnd(16)}${cached}  ${p.recipes.map((r) => r.name).join(', ') || '(bootstrap only)'}\n`;
    })
    .join('');
}

/** The partition table of a plan: number, name, role, start and size in MiB ("?" until the build knows). */
export function layoutLines(layout: { table: string; size: number | null; partitions: { number: number; name: string; role: string; start: number | null; size: number | null }[] }): string {
  const mib = (n: number | null) => (n === null ? '?' : String(Math.round((n / 2 ** 20) * 10) / 10));
  const rows = layout.partitions.map((p) => `  ${String(p.number).padStart(2)}  ${p.name.padEnd(10)} ${p.role.padEnd(9)} start ${mib(p.start).padStart(7)} MiB  size ${mib(p.size).padStart(7)} MiB\n`);
  return `${layout.table.toUpperCase()} partition table, image ${mib(layout.size)} MiB\n${rows.join('')}`;
}
