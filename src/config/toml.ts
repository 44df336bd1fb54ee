import TOML from '@iarna/toml';
import { readFile } from 'node:fs/promises';
import type { Diagnostic } from '../errors.js';

export interface TomlDocument {
  file: string;
  data: Record<string, unknown>;
  /** Dotted key path → 1-based line where the key (or table header) is written. */
  lines: Map<string, number>;
}

export type ParseResult = { ok: true; doc: TomlDocument } | { ok: false; diagnostic: Diagnostic };

/** The only place TOML is parsed. Keeps line numbers so diagnostics can point at keys. */
export async function readToml(file: string, displayName = file): Promise<ParseResult> {
  let source: string;
  try {
    source = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return {
      ok: false,
      diagnostic: { file: displayName, path: '', message: code === 'ENOENT' ? 'file not found' : `cannot read: ${String(err)}` },
    };
  }
  return parseToml(source, displayName);
}

export function parseToml(source: string, file: string): ParseResult {
  try {
    const data = TOML.parse(source) as Record<string, unknown>;
    return { ok: true, doc: { file, data: plain(data) as Record<string, unknown>, lines: locateKeys(source) } };
  } catch (err) {
    const e = err as { line?: number; col?: number; message: string };
    // @iarna/toml appends a code frame to its message; keep the first sentence only.
    const message = String(e.message).split('\n')[0]!.replace(/ at row \d+, col \d+, pos \d+:?$/, '');
    return {
      ok: false,
      diagnostic: {
        file,
        path: '',
        message: `TOML syntax error: ${message}`,
        line: e.line !== undefined ? e.line + 1 : undefined,
        column: e.col !== undefined ? e.col + 1 : undefined,
      },
    };
  }
}

/** @iarna/toml returns objects with symbol metadata and Date subclasses; make them plain. */
function plain(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(plain);
  if (value instanceof Date) return value.toISOString();
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

/**
 * A light scan of the source that maps dotted key paths to the line they are written on. It
 * understands table headers, arrays of tables and `key = value` lines; keys inside inline tables
 * fall back to their table's line. Good enough to point a user at the right spot.
 */
export function locateKeys(source: string): Map<string, number> {
  const lines = new Map<string, number>();
  const arrayCounts = new Map<string, number>();
  let table: string[] = [];
  source.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    const lineNo = index + 1;
    let m = /^\[\[\s*([^\]]+?)\s*\]\]/.exec(line);
    if (m) {
      const base = splitKey(m[1]!).join('.');
      const n = arrayCounts.get(base) ?? 0;
      arrayCounts.set(base, n + 1);
      table = [...splitKey(m[1]!), String(n)];
      record(lines, table, lineNo);
      return;
    }
    m = /^\[\s*([^\]]+?)\s*\]/.exec(line);
    if (m) {
      table = splitKey(m[1]!);
      record(lines, table, lineNo);
      return;
    }
    m = /^((?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+)(?:\s*\.\s*(?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+))*)\s*=/.exec(line);
    if (m) record(lines, [...table, ...splitKey(m[1]!)], lineNo);
  });
  return lines;
}

function record(lines: Map<string, number>, path: string[], lineNo: number): void {
  const key = path.join('.');
  if (!lines.has(key)) lines.set(key, lineNo);
}

function splitKey(key: string): string[] {
  const parts: string[] = [];
  const re = /\s*("([^"]*)"|'([^']*)'|[^.\s]+)\s*(?:\.|$)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(key)) && m[0] !== '') parts.push(m[2] ?? m[3] ?? m[1]!);
  return parts;
}

/** The line of a key path, or of its nearest written ancestor. */
export function lineOf(doc: TomlDocument, path: (string | number)[]): number | undefined {
  for (let n = path.length; n > 0; n--) {
    const line = doc.lines.get(path.slice(0, n).join('.'));
    if (line !== undefined) return line;
  }
  return undefined;
}
