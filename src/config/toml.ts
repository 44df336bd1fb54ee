import TOML from '@iarna/toml';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
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
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why: Record<string, string> = { ENOENT: 'file not found', EISDIR: 'is a directory, expected a TOML file', EACCES: 'cannot read: permission denied' };
    return { ok: false, diagnostic: { file: displayName, path: '', message: why[code ?? ''] ?? `cannot read: ${(err as Error).message}` } };
  }
  const source = decodeUtf8(bytes, displayName);
  if (typeof source !== 'string') return { ok: false, diagnostic: source };
  return parseToml(source, displayName);
}

/**
 * TOML is UTF-8. A byte-order mark (some editors write one) is skipped; any other byte that is not
 * UTF-8 is named with its line instead of being silently replaced.
 */
export function decodeUtf8(bytes: Buffer, file: string): string | Diagnostic {
  const start = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(start));
  } catch {
    // Find the first offending byte: the longest prefix that still decodes.
    let good = start;
    const decoder = new TextDecoder('utf-8', { fatal: true });
    for (let end = start + 1; end <= bytes.length; end++) {
      try {
        decoder.decode(bytes.subarray(start, end));
        good = end;
      } catch {
        if (end - good > 4) break;
      }
    }
    const line = bytes.subarray(0, good).toString('latin1').split('\n').length;
    return {
      file,
      path: '',
      line,
      message: `not UTF-8: byte 0x${bytes[good]!.toString(16).padStart(2, '0')} cannot start or continue a character`,
      hint: 'save the file as UTF-8',
    };
  }
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

/**
 * Gives problems found after parsing (references, parameters, files) the line of their key, as
 * schema problems have: each file is scanned once.
 */
export function withLines(diagnostics: Diagnostic[]): Diagnostic[] {
  const scanned = new Map<string, Map<string, number> | undefined>();
  return diagnostics.map((d) => {
    if (d.line !== undefined || !d.path) return d;
    if (!scanned.has(d.file)) {
      let lines: Map<string, number> | undefined;
      try {
        lines = locateKeys(readFileSync(path.resolve(d.file), 'utf8').replace(/^\uFEFF/, ''));
      } catch {
        lines = undefined;
      }
      scanned.set(d.file, lines);
    }
    const lines = scanned.get(d.file);
    const line = lines && lineOf({ file: d.file, data: {}, lines }, d.path.split('.'));
    return line === undefined ? d : { ...d, line };
  });
}

/** The line of a key path, or of its nearest written ancestor. */
export function lineOf(doc: TomlDocument, path: (string | number)[]): number | undefined {
  for (let n = path.length; n > 0; n--) {
    const line = doc.lines.get(path.slice(0, n).join('.'));
    if (line !== undefined) return line;
  }
  return undefined;
}
