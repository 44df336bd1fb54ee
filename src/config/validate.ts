import type { z } from 'zod';
import type { Diagnostic } from '../errors.js';
import { KNOWN_MISTAKES } from './schema.js';
import { lineOf, type TomlDocument } from './toml.js';

export type Validated<T> = { ok: true; value: T } | { ok: false; diagnostics: Diagnostic[] };

/** Runs a zod schema over a parsed TOML document and turns its issues into diagnostics. */
export function validate<S extends z.ZodType>(schema: S, doc: TomlDocument, vocabulary: string[]): Validated<z.output<S>> {
  const result = schema.safeParse(doc.data);
  if (result.success) return { ok: true, value: result.data };
  const diagnostics: Diagnostic[] = [];
  for (const issue of result.error.issues) {
    const path = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const full = [...path, key];
        diagnostics.push({
          file: doc.file,
          path: full.join('.'),
          line: lineOf(doc, full),
          message: `unknown key \`${key}\``,
          hint: suggest(key, vocabulary),
        });
      }
      continue;
    }
    const actual = valueAt(doc.data, path);
    let message = issue.message;
    if (issue.code === 'invalid_type') {
      message = actual === undefined ? `missing required key, expected ${issue.expected}` : `expected ${issue.expected}, got ${describe(actual)}`;
    } else if (issue.code === 'invalid_value' && actual === undefined) {
      message = `missing required key, expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    } else if (issue.code === 'invalid_value') {
      message = `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${describe(actual)}`;
    } else if (issue.code === 'invalid_key') {
      // A table name that is not a valid name (`[systems."My Sensor"]`): say which and what names look like.
      const inner = (issue.issues ?? []).map((i) => i.message).find(Boolean);
      message = `${JSON.stringify(path[path.length - 1])} is not a valid name${inner ? `: expected ${inner}` : ''}`;
    } else if (issue.code === 'invalid_format' || issue.code === 'too_small' || issue.code === 'invalid_union') {
      message = `${issue.message.replace(/^Invalid input: /, '')}, got ${describe(actual)}`;
    }
    diagnostics.push({ file: doc.file, path: path.join('.'), line: lineOf(doc, path), message });
  }
  return { ok: false, diagnostics };
}

function valueAt(data: unknown, path: string[]): unknown {
  let cur = data;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'a table';
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  return `${typeof value} ${JSON.stringify(value)}`;
}

/** "did you mean …?" for a misspelt or foreign key. */
export function suggest(word: string, vocabulary: string[]): string | undefined {
  const known = KNOWN_MISTAKES[word];
  if (known) return `did you mean \`${known}\`?`;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of vocabulary) {
    const d = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(word.length / 3)) ? `did you mean \`${best}\`?` : undefined;
}

export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}
