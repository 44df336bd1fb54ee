/** The bakery commands a template's CI workflow runs (`./run-bakery …` in its `run:` lines), in order, as argument lists. */
export function ciCommands(workflow: string): string[][] {
  return [...workflow.matchAll(/\.\/run-bakery ([^\n>|&]+)/g)].map((m) => m[1]!.trim().replace(/"/g, '').split(/\s+/));
}
