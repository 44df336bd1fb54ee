/** Human output shared by commands. */
import type { PlannedLayer } from '../build/layer.js';

/** One line per layer of a plan: name, short key, what it applies. */
export function planLines(plan: PlannedLayer[]): string {
  return plan.map((p) => `${p.layer}  ${p.key.slice(0, 12)}  ${p.recipes.map((r) => r.name).join(', ') || '(bootstrap only)'}\n`).join('');
}
