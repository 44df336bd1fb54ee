/**
 * The layout of src/ is the architecture: the CLI sits on the build API, commands never import
 * each other, nothing below the CLI reaches up into it, and no module cycle exists. Checked on
 * the real import graph (value imports; `import type` is erased and cannot form a load cycle).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(rel);
    return e.name.endsWith('.ts') ? [rel] : [];
  });
}

/** file → the project files it imports by value (static `import`/`export … from`). */
export function importGraph(files: Map<string, string>): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const [file, text] of files) {
    const deps: string[] = [];
    for (const m of text.matchAll(/^\s*(?:import|export)\s+(type\s+)?(?:[^'";]*?\s+from\s+)?'(\.{1,2}\/[^']+)'/gm)) {
      if (m[1]) continue;
      deps.push(path.join(path.dirname(file), m[2]!.replace(/\.js$/, '.ts')));
    }
    graph.set(file, deps);
  }
  return graph;
}

/** Strongly connected components with more than one module (Tarjan), or a module importing itself. */
export function cycles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || graph.get(v)!.includes(v)) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

const files = new Map(sourceFiles('src').map((f) => [f, readFileSync(path.join(ROOT, f), 'utf8')]));
const graph = importGraph(files);
const edges = [...graph].flatMap(([from, deps]) => deps.map((to) => ({ from, to })));

describe('the module structure of src/', () => {
  it('reads the real graph (sanity: known edges are seen, type-only ones are not)', () => {
    expect(graph.size).toBeGreaterThan(40);
    expect(graph.get('src/cli/commands/bake-image.ts')).toContain('src/build/image.ts');
    // src/engine/steps.ts imports LayerPlan from plan.ts as a type only.
    expect(graph.get('src/engine/steps.ts')).not.toContain('src/engine/plan.ts');
  });

  it('finds cycles when there are some (the checker itself)', () => {
    const g = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a']],
      ['d', ['a']],
      ['e', ['e']],
    ]);
    expect(cycles(g)).toEqual([['a', 'b', 'c'], ['e']]);
    const text = new Map([
      ['src/x.ts', "import { y } from './y.js';\nimport type { Z } from './z.js';\n"],
      ['src/y.ts', "import {\n  x,\n} from './x.js';\n"],
      ['src/z.ts', "export { x } from './x.js';\n"],
    ]);
    expect(cycles(importGraph(text))).toEqual([['src/x.ts', 'src/y.ts']]);
  });

  it('has no import cycles', () => {
    expect(cycles(graph)).toEqual([]);
  });

  it('has no command importing another command', () => {
    const crossing = edges.filter((e) => e.from.startsWith('src/cli/commands/') && e.to.startsWith('src/cli/commands/'));
    expect(crossing).toEqual([]);
  });

  it('has nothing below the CLI importing it: the build API works without the CLI', () => {
    const upward = edges.filter((e) => !e.from.startsWith('src/cli/') && e.to.startsWith('src/cli/'));
    expect(upward).toEqual([]);
  });

  it('keeps use cases in src/build/: commands do not drive the engine, image assembly or VMs themselves', () => {
    const direct = edges.filter((e) => e.from.startsWith('src/cli/commands/') && /^src\/(engine|image)\/|^src\/vm\/(qemu|machine)\.ts$|^src\/testing\/runner\.ts$/.test(e.to));
    expect(direct).toEqual([]);
  });
});
