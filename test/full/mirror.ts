/**
 * The B → A variant of a recovery workflow that runs A → B: the device first runs v2 from slot B
 * (installed and confirmed), then the same steps follow with the slots' names mirrored.
 */
import TOML from '@iarna/toml';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

type Step = Record<string, unknown>;
const other = (slot: string) => (slot === 'A' ? 'B' : slot === 'B' ? 'A' : slot);
const mirrorText = (text: string) => text.replace(/\bslot ([AB])\b/g, (_m, s: string) => `slot ${other(s)}`);

/** The step with A and B exchanged wherever it names a slot; the old release is now v2. */
export function mirrorStep(step: Step): Step {
  const out: Step = { ...step };
  for (const key of ['name', 'wait-for']) if (typeof out[key] === 'string') out[key] = mirrorText(out[key] as string);
  if (typeof out['assert-booted'] === 'string') out['assert-booted'] = other(out['assert-booted'] as string);
  if (out['assert-slots']) out['assert-slots'] = Object.fromEntries(Object.entries(out['assert-slots'] as object).map(([s, v]) => [other(s), v]));
  if (out['expect-output'] === '1.0.0') out['expect-output'] = '2.0.0';
  if (typeof out['expect-match'] === 'string') out['expect-match'] = (out['expect-match'] as string).replace(/^\^([AB]) /, (_m, s: string) => `^${other(s)} `);
  return out;
}

export function mirrorWorkflow(workflow: { description: string; steps: Step[] }): object {
  const [boot, ...rest] = workflow.steps;
  return {
    ...workflow,
    description: `${workflow.description} (from slot B to A: v2 runs from B first)`,
    steps: [
      boot,
      { install: '{{v2}}' },
      { reboot: true },
      { 'assert-booted': 'B' },
      { 'assert-slots': { A: 'good', B: 'good' } },
      ...rest.map(mirrorStep),
    ],
  };
}

/** Writes `<name>-b-to-a.toml` beside `file` in `dir`; returns the new workflow's name. */
export async function writeMirroredWorkflow(dir: string, file: string): Promise<string> {
  const workflow = TOML.parse(await readFile(path.join(dir, file), 'utf8')) as unknown as { description: string; steps: Step[] };
  const name = file.replace(/\.toml$/, '-b-to-a');
  await writeFile(path.join(dir, `${name}.toml`), TOML.stringify(mirrorWorkflow(workflow) as TOML.JsonMap));
  return name;
}
