/**
 * Full suite: the OTA proof's scenario matrix beyond what CI runs — the power cut while the checks
 * run, downgrade and certificate rules (EFI), PID 1 hung during validation
 * (hardware watchdog), the failing-check rollback from A to B, and every recovery scenario in the
 * other slot direction — on both boot flows (GRUB on EFI, U-Boot), as each workflow names its
 * releases per system. The B → A variant of each `recovery-*` workflow is derived from it, not
 * copied: the device first runs v2 from slot B (installed and confirmed), then the same steps
 * follow with the slots' names mirrored — the broken release lands in A and the device must come
 * back on B.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { bakery } from '../helpers.js';
import { CI_SCENARIOS, FULL_ONLY_SCENARIOS, otaProjectDir, prepareOtaProject } from '../e2e/ota-setup.js';
import { writeMirroredWorkflow } from './mirror.js';

const project = otaProjectDir();
let matrix: string[];

beforeAll(async () => {
  await prepareOtaProject(project);
  const tests = path.join(project, 'tests');
  const recovery = (await readdir(tests)).filter((f) => f.startsWith('recovery-') && f.endsWith('.toml'));
  // Recovery workflows CI does not run, then every recovery workflow mirrored.
  matrix = recovery.map((f) => f.replace(/\.toml$/, '')).filter((w) => !CI_SCENARIOS.includes(w));
  for (const file of recovery) matrix.push(await writeMirroredWorkflow(tests, file));
});

describe('unattended recovery: the whole matrix', () => {
  it('the watchdog case, the A-to-B failing check, and every recovery scenario in the other direction, on both boot flows', async () => {
    expect(matrix).toEqual(expect.arrayContaining(['recovery-watchdog', 'recovery-failing-check', 'recovery-panic-b-to-a', 'recovery-emergency-b-to-a', 'recovery-watchdog-b-to-a']));
    // Each on both flows, and the recovery scenarios CI runs on EFI only, on U-Boot.
    const workflows = [...matrix, ...CI_SCENARIOS.filter((w) => w.startsWith('recovery-')).map((w) => `${w}@uboot-v1`), ...FULL_ONLY_SCENARIOS.map((w) => `${w}@ota-v1`)];
    const r = await bakery(['test', 'ota-v1', 'uboot-v1', '--jobs', '2', '--json', ...workflows.flatMap((w) => ['--workflow', w]), '--project', project]);
    const out = JSON.parse(r.stdout);
    const failures = (out.runs as { workflow: string; steps: { name: string; status: string; message?: string }[] }[])
      .flatMap((run) => run.steps.filter((s) => s.status === 'failed').map((s) => `${run.workflow} › ${s.name}: ${s.message}`));
    expect(failures, `logs: ${out.runDir}`).toEqual([]);
    expect(r.code).toBe(0);
    const ran = (out.runs as { workflow: string; system: string }[]).map((run) => `${run.workflow}@${run.system}`);
    expect(ran).toEqual(expect.arrayContaining(['recovery-watchdog@uboot-v1', 'recovery-panic-b-to-a@uboot-v1', 'recovery-panic@uboot-v1', 'recovery-watchdog-b-to-a@ota-v1',
      'recovery-power-cut-checks@ota-v1', 'recovery-power-cut-checks@uboot-v1', 'downgrade@ota-v1', 'certificates@ota-v1']));
    const steps = (workflow: string) => (out.runs as { workflow: string; steps: { name: string }[] }[]).find((run) => run.workflow === workflow)!.steps.map((s) => s.name);
    expect(steps('recovery-power-cut-checks')).toContain('power cut while slot B\'s checks run');
    expect(steps('downgrade')).toEqual(expect.arrayContaining(['v1 offered to v2: refused, slots unchanged', 'v1\'s content released as 2.0.1: installed']));
    expect(steps('certificates')).toEqual(expect.arrayContaining(['signed with a trusted but expired certificate: refused', 'a valid bundle still installs', 'so it accepts an older bundle']));
  });
});
