/**
 * Full suite: the arm64 demo (built under qemu-user, booted with AAVMF under TCG) passes the
 * repository's own workflow: slot A confirmed, overlay root, recovery armed (panic reboot, the
 * i6300esb watchdog), ssh, a copied file.
 */
import { describe, expect, it } from 'vitest';
import { BAKERY_HOME } from '../../src/util/paths.js';
import { bakery } from '../helpers.js';

describe('demo-efi-arm64', () => {
  it('`bakery test demo-efi-arm64` passes tests/demo.toml', async () => {
    const r = await bakery(['test', 'demo-efi-arm64', '--json', '--project', BAKERY_HOME]);
    const out = JSON.parse(r.stdout);
    const failed = out.runs.flatMap((run: { steps: { name: string; status: string; message?: string }[] }) => run.steps.filter((s) => s.status === 'failed').map((s) => `${s.name}: ${s.message}`));
    expect(failed, `logs: ${out.runDir}`).toEqual([]);
    expect(r.code).toBe(0);
  });
});
