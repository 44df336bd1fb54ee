import type { z } from 'zod';
import { LayerFile, RecipeFile, SystemsFile } from './schema.js';
import { TargetFile } from './target.js';

let cached: string[] | undefined;

/** Every key any schema knows, for "did you mean" hints. */
export function vocabulary(): string[] {
  cached ??= [...new Set([LayerFile, RecipeFile, SystemsFile, TargetFile].flatMap((s) => keysOf(s)))].sort();
  return cached;
}

function keysOf(schema: z.ZodType, depth = 0): string[] {
  if (depth > 8) return [];
  // zod 4 keeps the definition on `.def`; walk through wrappers to the object shapes.
  const def = (schema as unknown as { def: Record<string, unknown> }).def;
  const keys: string[] = [];
  const shape = def.shape as Record<string, z.ZodType> | undefined;
  if (shape) {
    for (const [key, child] of Object.entries(shape)) keys.push(key, ...keysOf(child, depth + 1));
  }
  for (const field of ['innerType', 'element', 'valueType', 'in', 'out']) {
    const inner = def[field] as z.ZodType | undefined;
    if (inner && typeof inner === 'object' && 'def' in inner) keys.push(...keysOf(inner, depth + 1));
  }
  for (const option of (def.options as z.ZodType[] | undefined) ?? []) keys.push(...keysOf(option, depth + 1));
  return keys;
}
