/**
 * Full suite: the arm64 demo (built under qemu-user, booted under TCG) on both arm64 boot flows —
 * GRUB with AAVMF, and U-Boot (Debian's qemu_arm64 build) running bakery's boot script — passes
 * the repository's own workflow: slot A confirmed, overlay root, recovery armed (panic reboot,
 * the i6300esb watchdog), ssh, a copied file. Two VMs side by side.
 */
import { describe, expect, it } from 'vitest';
import { BAKERY_HOME } from '../../src/util/paths.js';
import { bakery } from '../helpers.js';

describe('arm64: demo-efi-arm64 and demo-uboot-arm64', () => {
  it('`bakery test demo-efi-arm64 demo-uboot-arm64` passes tests/demo.toml on both', async () => {
    const r = await bakery(['test', 'demo-efi-arm64', 'demo-uboot-arm64', '--jobs', '2', '--json', '--project', BAKERY_HOME]);
    const out = JSON.parse(r.stdout);
    const failed = out.runs.flatMap((run: { steps: { name: string; status: string; message?: string }[] }) => run.steps.filter((s) => s.status === 'failed').map((s) => `${s.name}: ${s.message}`));
    expect(failed, `logs: ${out.runDir}`).toEqual([]);
    expect(out.runs.map((run: { system: string; status: string }) => `${run.system}:${run.status}`).sort()).toEqual(['demo-efi-arm64:passed', 'demo-uboot-arm64:passed']);
    expect(r.code).toBe(0);
  });
});
