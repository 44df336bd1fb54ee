/**
 * Which accelerator a VM gets: KVM where it really works, else TCG — and why. `/dev/kvm` existing
 * is not enough. Seen on these hosts: QEMU given `-accel kvm` aborts at start (`failed to set MSR
 * 0x10a`), or starts and stops the guest at its first instruction ("KVM internal error", QEMU
 * itself stays up). So the probe boots the same EFI firmware a VM would, on the same QEMU, and
 * KVM counts as working only once the firmware has printed on the serial console.
 */
import { execa } from 'execa';
import { constants } from 'node:fs';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Architecture } from '../config/schema.js';
import { UserError } from '../errors.js';
import { hostDebianArch } from '../util/host.js';
import { efiFirmware } from './firmware.js';
import { QEMU_BINARY, QEMU_MACHINE } from './qemu-machine.js';

export const ACCEL_CHOICES = ['auto', 'kvm', 'tcg'] as const;
export type AccelChoice = (typeof ACCEL_CHOICES)[number];

export interface Accel {
  accel: 'kvm' | 'tcg';
  /** Why this one, for the user ("KVM works", "KVM unusable: …"). */
  reason: string;
}

/** The firmware prints within ~1 s under KVM; a guest that has not printed by then never will. */
const PROBE_TIMEOUT_MS = 15_000;

/** QEMU's words when KVM stops a guest it cannot run; QEMU stays up, the guest never moves again. */
export const KVM_GUEST_FAILURE = /KVM internal error|KVM: entry failed|kvm run failed/;

const probes = new Map<Architecture, Promise<{ ok: boolean; detail: string }>>();

/** Starts QEMU with KVM on an empty machine; ok when it comes up and keeps running. Once per process. */
export function probeKvm(architecture: Architecture): Promise<{ ok: boolean; detail: string }> {
  let probe = probes.get(architecture);
  if (!probe) {
    probe = runProbe(architecture);
    probes.set(architecture, probe);
  }
  return probe;
}

async function runProbe(architecture: Architecture): Promise<{ ok: boolean; detail: string }> {
  if (architecture !== hostDebianArch()) return { ok: false, detail: `KVM runs only ${hostDebianArch()} guests on this host` };
  // BAKERY_KVM_DEVICE: where KVM is, for containers that expose it elsewhere.
  const device = process.env.BAKERY_KVM_DEVICE || '/dev/kvm';
  try {
    await access(device, constants.R_OK | constants.W_OK);
  } catch {
    return { ok: false, detail: `${device} is missing or not accessible to this user` };
  }
  const firmware = efiFirmware(architecture);
  const dir = await mkdtemp(path.join(tmpdir(), 'bakery-kvm-probe-'));
  try {
    const firmwareArgs = await firmware.prepare(dir);
    const child = execa(QEMU_BINARY[architecture], [
      ...QEMU_MACHINE[architecture], '-accel', 'kvm', '-m', '256', '-nodefaults', '-display', 'none', '-monitor', 'none', '-serial', 'stdio', '-no-reboot',
      ...firmwareArgs,
    ], { reject: false, buffer: false, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' });
    let stderr = '';
    const ran = await new Promise<boolean>((resolve) => {
      child.stdout?.on('data', () => resolve(true));
      child.stderr?.on('data', (c: Buffer) => {
        stderr = (stderr + c.toString()).slice(-2000);
        if (KVM_GUEST_FAILURE.test(stderr)) resolve(false);
      });
      void child.then(() => resolve(false));
      setTimeout(() => resolve(false), PROBE_TIMEOUT_MS).unref();
    });
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    const result = await child;
    if (ran) return { ok: true, detail: 'KVM works' };
    if (KVM_GUEST_FAILURE.test(stderr)) return { ok: false, detail: `KVM stops the guest at once ("${kvmFailureLine(stderr)}")` };
    if (result.exitCode !== undefined || result.signal) return { ok: false, detail: `QEMU with KVM exits at start: ${lastLines(stderr) || `exit code ${result.exitCode}`}` };
    return { ok: false, detail: `the firmware printed nothing within ${PROBE_TIMEOUT_MS / 1000} s under KVM` };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The accelerator for a VM of this architecture; `kvm` asked for and unusable is an error. */
export async function chooseAccel(architecture: Architecture, requested: AccelChoice = 'auto'): Promise<Accel> {
  if (requested === 'tcg') return { accel: 'tcg', reason: 'TCG, as asked (--accel tcg)' };
  const probe = await probeKvm(architecture);
  if (probe.ok) return { accel: 'kvm', reason: probe.detail };
  if (requested === 'kvm') throw new UserError(`--accel kvm: ${probe.detail}`, 'use --accel auto (falls back to TCG) or --accel tcg');
  return { accel: 'tcg', reason: `TCG (software emulation, slower): ${probe.detail}` };
}

/** The line in which QEMU says that KVM stopped the guest. */
export function kvmFailureLine(stderr: string): string {
  return stderr.split('\n').find((l) => KVM_GUEST_FAILURE.test(l))?.trim() ?? '';
}

/** The last few non-empty lines of a process's output, for messages. */
export function lastLines(text: string, n = 4): string {
  return text.split('\n').map((l) => l.trim()).filter(Boolean).slice(-n).join(' | ');
}
