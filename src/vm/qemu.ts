/**
 * Booting a system image in QEMU: the boot flow's firmware (EFI with a private copy of its variables), the image
 * behind a copy-on-write overlay (system.img never changes), serial console, user networking
 * with ssh forwarded from 127.0.0.1, a watchdog that can reset the machine.
 *
 * QEMU runs with -no-reboot: a guest reset (reboot, watchdog, panic) ends the process, and the
 * caller starts a new one on the same disk and firmware variables. A reset inside QEMU's TCG
 * sometimes hangs for good on these hosts; a fresh process never does, so a reboot costs a boot.
 */
import { execa, type ResultPromise } from 'execa';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Architecture } from '../config/schema.js';
import { UserError } from '../errors.js';
import { which } from '../util/which.js';
import { KVM_GUEST_FAILURE, kvmFailureLine, lastLines } from './accel.js';
import type { VmFirmware } from './firmware.js';
import { QEMU_BINARY, QEMU_MACHINE, QEMU_PACKAGE, QEMU_WATCHDOG } from './qemu-machine.js';

export interface VmOptions {
  architecture: Architecture;
  /** What boots first: the system's boot flow decides (EFI for GRUB). */
  firmware: VmFirmware;
  image: string;
  /** Where the overlay and the firmware variables live while the VM runs. */
  stateDir: string;
  memoryMiB: number;
  cpus: number;
  /** Chosen by `chooseAccel`: never a silent fallback inside QEMU. */
  accel: 'kvm' | 'tcg';
  /** 127.0.0.1:<sshPort> → guest :22. */
  sshPort: number;
  /** No traffic from the guest beyond the forwarded ports (tests). */
  restrictNetwork: boolean;
  /** The overlay's virtual size: a bigger disk than the image, as a real device would have. */
  diskBytes?: number;
  /** More disks, read-only, each with a serial the guest sees in /dev/disk/by-id/virtio-<serial>. */
  extraDrives?: { file: string; serial: string }[];
}

export interface VmFiles {
  /** QEMU's arguments for the firmware and its private state. */
  firmware: string[];
  overlay: string;
}

/** The QEMU command line (pure; unit-tested). */
export function qemuArgs(o: VmOptions, files: VmFiles): string[] {
  return [
    ...QEMU_MACHINE[o.architecture],
    '-accel', o.accel,
    '-m', String(o.memoryMiB),
    '-smp', String(o.cpus),
    '-no-reboot',
    ...(o.firmware.watchdog ?? QEMU_WATCHDOG[o.architecture]),
    ...files.firmware,
    // The system disk is the first virtio device (the first -device, so the lowest free PCI
    // slot): firmware that boots from "virtio 0" (U-Boot's distro boot) finds it there, not a
    // transfer disk, and Linux names it vda. (`-drive if=virtio` would be created after them.)
    '-drive', `file=${files.overlay},if=none,id=system,format=qcow2,cache=unsafe`,
    '-device', 'virtio-blk-pci,drive=system,bootindex=0',
    ...(o.extraDrives ?? []).flatMap((d, i) => [
      // QEMU's option syntax doubles a comma inside a value.
      '-drive', `file=${d.file.replaceAll(',', ',,')},if=none,id=extra${i},format=raw,readonly=on`,
      '-device', `virtio-blk-pci,drive=extra${i},serial=${d.serial}`,
    ]),
    '-netdev', `user,id=net0,hostfwd=tcp:127.0.0.1:${o.sshPort}-:22${o.restrictNetwork ? ',restrict=on' : ''}`,
    '-device', 'virtio-net-pci,netdev=net0',
    '-device', 'virtio-rng-pci',
    '-display', 'none',
    '-monitor', 'none',
    '-serial', 'stdio',
  ];
}

/** How a QEMU process ended. */
export type VmExit =
  /** The guest reset itself (reboot, watchdog, panic): start it again. */
  | { kind: 'reset' }
  /** The guest powered off. */
  | { kind: 'poweroff' }
  /** QEMU itself ended otherwise (crash, abort, killed): `reason` has its last words. */
  | { kind: 'died'; reason: string; signal?: string };

export interface VmProcess {
  child: ResultPromise;
  /** Resolves when QEMU has exited, with what that means for the machine. */
  exited: Promise<VmExit>;
  stop(): Promise<void>;
}

/**
 * What an exit means. With -no-reboot QEMU exits 0 both when the guest resets and when it powers
 * off; the kernel's last console line tells them apart. A signal (QEMU says "terminating on
 * signal") or a non-zero code is QEMU dying, not the guest.
 */
export function classifyExit(o: { exitCode?: number; signal?: string; stderr: string; consoleTail: string }): VmExit {
  const stderr = lastLines(o.stderr);
  if (KVM_GUEST_FAILURE.test(o.stderr)) return { kind: 'died', reason: `KVM stopped the guest ("${kvmFailureLine(o.stderr)}"); try --accel tcg` };
  if (o.signal) return { kind: 'died', signal: o.signal, reason: `QEMU ended on ${o.signal}${stderr ? `: ${stderr}` : ''}` };
  const signalled = /terminating on signal (\d+)/.exec(o.stderr);
  if (signalled) return { kind: 'died', signal: `signal ${signalled[1]}`, reason: `QEMU was stopped from outside: ${stderr}` };
  if (o.exitCode !== 0) return { kind: 'died', reason: `QEMU exited with code ${o.exitCode}${stderr ? `: ${stderr}` : ''}` };
  return /reboot: Power down|System halted/.test(o.consoleTail) ? { kind: 'poweroff' } : { kind: 'reset' };
}

/** Prepares the overlay and firmware variables (kept across reboots of this VM). */
export async function prepareVm(o: VmOptions): Promise<VmFiles> {
  const binary = QEMU_BINARY[o.architecture];
  if (!(await which(binary))) throw new UserError(`${binary} is not installed`, `apt-get install ${QEMU_PACKAGE[o.architecture]} qemu-utils`);
  if (!(await which('qemu-img'))) throw new UserError('qemu-img is not installed', 'apt-get install qemu-utils');
  await mkdir(o.stateDir, { recursive: true });
  const overlay = path.join(o.stateDir, 'disk.qcow2');
  await rm(overlay, { force: true });
  await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', path.resolve(o.image), '-F', 'raw', overlay, ...(o.diskBytes ? [String(o.diskBytes)] : [])]);
  return { firmware: await o.firmware.prepare(o.stateDir), overlay };
}

/**
 * Starts QEMU. The serial console is piped (`console` gets it; with `echo` it is also copied to
 * this process's stdout for a person at a terminal); stdin is piped or inherited.
 */
export function startQemu(o: VmOptions, files: VmFiles, stdio: { stdin: 'pipe' | 'inherit'; echo: boolean }): VmProcess {
  const child = execa(QEMU_BINARY[o.architecture], qemuArgs(o, files), { stdin: stdio.stdin, stdout: 'pipe', stderr: 'pipe', reject: false, buffer: false });
  let stderr = '';
  let consoleTail = '';
  child.stderr!.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString()).slice(-4000);
    if (stdio.echo) process.stderr.write(c);
    // QEMU stays up with a guest KVM has stopped for good: end it, so that nobody waits on it.
    if (KVM_GUEST_FAILURE.test(stderr) && child.exitCode === null) child.kill('SIGKILL');
  });
  child.stdout!.on('data', (c: Buffer) => {
    consoleTail = (consoleTail + c.toString()).slice(-2000);
    if (stdio.echo) process.stdout.write(c);
  });
  const exited = child.then((r) => classifyExit({ exitCode: r.exitCode, signal: r.signal, stderr, consoleTail }));
  return {
    child,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await child.catch(() => undefined);
    },
  };
}
