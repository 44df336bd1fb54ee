import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** A path as the user would type it: relative to the working directory when inside it. */
export function displayPath(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

/** The bakery checkout or package itself: the built-ins, the templates and the worker definition. */
export const BAKERY_HOME = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * What every project sees beside its own files: the layers, recipes and targets any product may
 * use. The repository's demo product is a project of its own (the repository root), not a built-in.
 */
export const BUILTIN_DIR = path.join(BAKERY_HOME, 'builtin');

/** This bakery's version (its package.json). */
export function bakeryVersion(): string {
  return (JSON.parse(readFileSync(path.join(BAKERY_HOME, 'package.json'), 'utf8')) as { version: string }).version;
}
