/**
 * Full suite: the OTA proof's scenario matrix beyond what CI runs — PID 1 hung during validation
 * (hardware watchdog), the failing-check rollback from A to B, and every recovery scenario in the
 * other slot direction. The B → A variant of each `recovery-*` workflow is derived from it, not
 * copied: the device first runs v2 from slot B (installed and confirmed), then the same steps
 * follow with the slots' names mirrored — the broken release lands in A and the device must come
 * back on B.
 */
import TOML from '@iarna/toml';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { bakery } from '../helpers.js';
import { CI_SCENARIOS, otaProjectDir, prepareOtaProject } from '../e2e/ota-setup.js';

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
  if (typeof out['expect-match'] === 'string') out['expect-match'] = (out['expect-match'] as string).replace(/^\^([AB])\\s/, (_m, s: string) => `^${other(s)}\\s`);
  return out;
}

function mirrorWorkflow(workflow: { description: string; steps: Step[] }): object {
  const [boot, ...rest] = workflow.steps;
  return {
    ...workflow,
    description: `${workflow.description} (from slot B to A: v2 runs from B first)`,
    steps: [
      boot,
      { install: 'ota-v2' },
      { reboot: true },
      { 'assert-booted': 'B' },
      { 'assert-slots': { A: 'good', B: 'good' } },
      ...rest.map(mirrorStep),
    ],
  };
}

const project = otaProjectDir();
let matrix: string[];

beforeAll(async () => {
  await prepareOtaProject(project);
  const tests = path.join(project, 'tests');
  const recovery = (await readdir(tests)).filter((f) => f.startsWith('recovery-') && f.endsWith('.toml'));
  // Recovery workflows CI does not run, then every recovery workflow mirrored.
  matrix = recovery.map((f) => f.replace(/\.toml$/, '')).filter((w) => !CI_SCENARIOS.includes(w));
  for (const file of recovery) {
    const workflow = TOML.parse(await readFile(path.join(tests, file), 'utf8')) as unknown as { description: string; steps: Step[] };
    const name = file.replace(/\.toml$/, '-b-to-a');
    await writeFile(path.join(tests, `${name}.toml`), TOML.stringify(mirrorWorkflow(workflow) as TOML.JsonMap));
    matrix.push(name);
  }
});

describe('unattended recovery: the whole matrix', () => {
  it('the watchdog case, the A-to-B failing check, and every recovery scenario in the other direction', async () => {
    expect(matrix).toEqual(expect.arrayContaining(['recovery-watchdog', 'recovery-failing-check', 'recovery-panic-b-to-a', 'recovery-emergency-b-to-a', 'recovery-watchdog-b-to-a']));
    const r = await bakery(['test', 'ota-v1', '--jobs', '2', '--json', ...matrix.flatMap((w) => ['--workflow', w]), '--project', project]);
    const out = JSON.parse(r.stdout);
    const failures = (out.runs as { workflow: string; steps: { name: string; status: string; message?: string }[] }[])
      .flatMap((run) => run.steps.filter((s) => s.status === 'failed').map((s) => `${run.workflow} › ${s.name}: ${s.message}`));
    expect(failures, `logs: ${out.runDir}`).toEqual([]);
    expect(r.code).toBe(0);
  });
});
