/**
 * The OTA and recovery proofs, driven by `bakery test` workflows (test/e2e/ota-project/tests/):
 * - ota: v1 from the image, v2 installed and confirmed, v3 (failing health check) rolled back by
 *   itself from both slots, foreign/tampered/wrong-compatible/plain bundles refused with the
 *   slots untouched, and a power cut in the middle of an install;
 * - recovery-*: a release whose init exits (kernel panic), one stuck in emergency mode (boot
 *   deadline), a power cut while the checks run — each back on the old slot with no step
 *   touching the VM after the fault;
 * - downgrade: an older bundle refused (RAUC's min-bundle-version), old content released as a
 *   newer version installed;
 * - certificates: an expired signer refused, a valid bundle installed with the clock in 2001.
 * The workflows name the releases of each boot flow as variables, so the same steps prove the
 * U-Boot A/B flow (target generic-uboot): CI runs the OTA proof on both flows and the panic and
 * deadline recoveries on EFI; the full suite (test/full/ota-matrix.test.ts) runs the power cut
 * during the checks, downgrade, certificates and every recovery scenario on both.
 * All run in one `bakery test --jobs 2` (two VMs side by side), sharing one set of builds.
 */
import { cp, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bakery } from '../helpers.js';
import { CI_SCENARIOS, otaProjectDir, prepareOtaProject } from './ota-setup.js';

const project = otaProjectDir();

beforeAll(() => prepareOtaProject(project));

let keepLogs = true;
afterAll(async () => {
  // On failure the runs' logs (console, steps, JUnit) are kept for a look.
  if (keepLogs) await cp(path.join(project, 'build', 'tests'), `${project}-logs`, { recursive: true }).catch(() => undefined);
  await rm(project, { recursive: true, force: true });
});

// CI's scenarios on EFI; the OTA proof on U-Boot too, beside them in the same run.
const SCENARIOS = CI_SCENARIOS;
const EXPECTED = [...CI_SCENARIOS.map((w) => `${w}@ota-v1`), 'ota@uboot-v1'];
const SELECTORS = ['ota', ...CI_SCENARIOS.filter((w) => w !== 'ota').map((w) => `${w}@ota-v1`), 'must-fail'];

describe('OTA updates and unattended recovery on the device, through `bakery test`', () => {
  let result: { code: number; stdout: string; stderr: string };
  let runs: { workflow: string; system: string; status: string; steps: { name: string; status: string; message?: string }[] }[];

  it('runs CI\'s scenarios and a failing workflow, two VMs side by side (own ports), JUnit for all', async () => {
    const junit = path.join(project, 'results', 'junit.xml');
    const workflows = SELECTORS.flatMap((w) => ['--workflow', w]);
    result = await bakery(['test', 'ota-v1', 'uboot-v1', '--jobs', '2', ...workflows, '--junit', junit, '--json', '--project', project]);
    const out = JSON.parse(result.stdout);
    runs = out.runs;
    const failures = runs
      .filter((r) => SCENARIOS.includes(r.workflow))
      .flatMap((r) => r.steps.filter((s) => s.status === 'failed').map((s) => `${r.workflow} › ${s.name}: ${s.message}`));
    expect(failures, `logs: ${out.runDir}`).toEqual([]);
    expect(runs.filter((r) => SCENARIOS.includes(r.workflow)).map((r) => `${r.workflow}@${r.system}:${r.status}`).sort()).toEqual(EXPECTED.map((w) => `${w}:passed`).sort());
    // must-fail expects a version the system does not have: the runner must say so.
    expect(result.code).toBe(1);
    const bad = runs.find((r) => r.workflow === 'must-fail')!;
    expect(bad.status).toBe('failed');
    expect(bad.steps.map((s) => s.status)).toEqual(['passed', 'failed', 'skipped']);
    expect(bad.steps[1]!.message).toContain('does not contain "9.9.9"');
    const xml = await readFile(junit, 'utf8');
    expect(xml).toContain('<testsuite name="ota [ota-v1]"');
    expect(xml).toMatch(/<testsuite name="ota \[ota-v1\]" tests="\d+" failures="0" skipped="0"/);
    expect(xml).toMatch(/<testsuite name="must-fail \[ota-v1\]" tests="3" failures="1" skipped="1"/);
    expect(xml).toContain('<failure message="the output does not contain &quot;9.9.9&quot;"');
    keepLogs = false;
  });

  it('each recovery scenario came back on the old slot by itself', () => {
    const steps = (workflow: string) => runs.find((r) => r.workflow === workflow)!.steps.map((s) => s.name);
    expect(steps('recovery-panic')).toEqual(expect.arrayContaining(['its init exits: kernel panic', 'reboot by itself; the boot loader falls back to slot A', 'RAUC reports the failed release bad']));
    expect(steps('recovery-emergency')).toEqual(expect.arrayContaining(['a required mount never appears: emergency mode', 'the deadline passes: reboot by itself', 'the boot loader falls back to slot A']));
  });

  it('the OTA proof covers each required scenario, on both boot flows', () => {
    for (const [system, release] of [['ota-v1', 'ota'], ['uboot-v1', 'uboot']]) {
      const names = runs.find((r) => r.workflow === 'ota' && r.system === system)!.steps.map((s) => s.name);
      for (const needed of [`install ${release}-v2`, `install ${release}-v3`, 'install-file refused/other-key.raucb', 'install-file refused/flipped-byte.raucb',
        'install-file refused/other-compatible.raucb', 'install-file refused/plain.raucb', 'power cut half way through writing slot A', 'assert-slots A=bad B=good']) {
        expect(names).toContain(needed);
      }
    }
  });
});
