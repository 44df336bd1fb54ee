import type { z } from 'zod';
import type { Diagnostic } from '../errors.js';
import { displayPath } from '../util/paths.js';
import { readToml } from './toml.js';
import { validate } from './validate.js';
import { vocabulary } from './vocabulary.js';

/** Reads one TOML file through its schema; problems go to `diagnostics`, the value is returned when valid. */
export async function readConfig<S extends z.ZodType>(file: string, schema: S, diagnostics: Diagnostic[]): Promise<z.output<S> | undefined> {
  const parsed = await readToml(file, displayPath(file));
  if (!parsed.ok) {
    diagnostics.push(parsed.diagnostic);
    return undefined;
  }
  const result = validate(schema, parsed.doc, vocabulary());
  if (result.ok) return result.value;
  diagnostics.push(...result.diagnostics);
  return undefined;
}
