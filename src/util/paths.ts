import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** A path as the user would type it: relative to the working directory when inside it. */
export function displayPath(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

/** The bakery checkout itself: built-in layers, recipes, targets and the worker definition. */
export const BAKERY_HOME = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
