import type { ParameterSpec, ParameterValue } from './schema.js';
import { describe } from './validate.js';

export type ResolvedParameters = Record<string, string>;

/**
 * A recipe's parameter values: what the layer gives, else the default. Returns problems instead
 * of throwing so that config checks can report them all at once.
 */
export function resolveParameters(
  specs: Record<string, ParameterSpec>,
  given: Record<string, ParameterValue>,
): { values: ResolvedParameters; problems: { name: string; message: string }[] } {
  const values: ResolvedParameters = {};
  const problems: { name: string; message: string }[] = [];
  for (const [name, value] of Object.entries(given)) {
    const spec = specs[name];
    if (!spec) {
      const known = Object.keys(specs);
      problems.push({ name, message: `unknown parameter \`${name}\`; the recipe has ${known.length ? known.map((k) => `\`${k}\``).join(', ') : 'no parameters'}` });
      continue;
    }
    const problem = typeProblem(spec, value);
    if (problem) problems.push({ name, message: problem });
  }
  for (const [name, spec] of Object.entries(specs)) {
    const value = given[name] ?? spec.default;
    if (value === undefined) {
      if (spec.required) problems.push({ name, message: `missing required parameter \`${name}\` (${spec.type})` });
      continue;
    }
    values[name] = String(value);
  }
  return { values, problems };
}

function typeProblem(spec: ParameterSpec, value: ParameterValue): string | undefined {
  const ok =
    spec.type === 'string' ? typeof value === 'string' : spec.type === 'integer' ? Number.isInteger(value) : typeof value === 'boolean';
  return ok ? undefined : `expected ${spec.type === 'integer' ? 'an integer' : `a ${spec.type}`}, got ${describe(value)}`;
}
