/**
 * Booting a system image in QEMU: EFI firmware with a private copy of its variables, the image
 * behind a copy-on-write overlay (system.img never changes), serial console, user networking
 * with ssh forwarded from 127.0.0.1. KVM when it works, else TCG.
 */
import { execa, type ResultPromise } from 'execa';
import { copyFile, mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Architecture } from '../config/schema.js';
import { UserError } from '../errors.js';
import { which } from '../util/which.js';
import { findFirmware } from './firmware.js';

export interface VmOptions {
  architecture: Architecture;
  image: string;
  /** Where the overlay and the firmware variables live while the VM runs. */
  stateDir: string;
  memoryMiB: number;
  cpus: number;
  /** 127.0.0.1:<sshPort> → guest :22. */
  sshPort: number;
  /** No traffic from the guest beyond the forwarded ports (tests). */
  restrictNetwork: boolean;
  /** The overlay's virtual size: a bigger disk than the image, as a real device would have. */
  diskBytes?: number;
  /** More disks, read-only, each with a serial the guest sees in /dev/disk/by-id/virtio-<serial>. */
  extraDrives?: { file: string; serial: string }[];
}

const QEMU: Record<Architecture, string> = { amd64: 'qemu-system-x86_64', arm64: 'qemu-system-aarch64' };
const QEMU_PKG: Record<Architecture, string> = { amd64: 'qemu-system-x86', arm64: 'qemu-system-arm' };

/** The QEMU command line (pure; unit-tested). */
export function qemuArgs(o: VmOptions, files: { code: string; vars: string; overlay: string }): string[] {
  const machine = o.architecture === 'amd64' ? ['-machine', 'q35', '-cpu', 'max'] : ['-machine', 'virt', '-cpu', 'max'];
  return [
    ...machine,
    // QEMU takes the first accelerator that works: KVM where usable, else TCG.
    '-accel', 'kvm', '-accel', 'tcg',
    '-m', String(o.memoryMiB),
    '-smp', String(o.cpus),
    '-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${files.code}`,
    '-drive', `if=pflash,format=raw,unit=1,file=${files.vars}`,
    '-drive', `file=${files.overlay},if=virtio,format=qcow2,cache=unsafe`,
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

export interface VmProcess {
  child: ResultPromise;
  stop(): Promise<void>;
}

/** Prepares the overlay and firmware variables (kept across reboots of this VM). */
export async function prepareVm(o: VmOptions): Promise<{ code: string; vars: string; overlay: string }> {
  const binary = QEMU[o.architecture];
  if (!(await which(binary))) throw new UserError(`${binary} is not installed`, `apt-get install ${QEMU_PKG[o.architecture]} qemu-utils`);
  if (!(await which('qemu-img'))) throw new UserError('qemu-img is not installed', 'apt-get install qemu-utils');
  const firmware = findFirmware(o.architecture);
  await mkdir(o.stateDir, { recursive: true });
  const overlay = path.join(o.stateDir, 'disk.qcow2');
  const vars = path.join(o.stateDir, 'efivars.fd');
  await rm(overlay, { force: true });
  await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', path.resolve(o.image), '-F', 'raw', overlay, ...(o.diskBytes ? [String(o.diskBytes)] : [])]);
  await copyFile(firmware.vars, vars);
  return { code: firmware.code, vars, overlay };
}

/** Starts QEMU; `stdio` 'inherit' puts the serial console on the terminal (Ctrl-C ends QEMU). */
export function startQemu(o: VmOptions, files: { code: string; vars: string; overlay: string }, stdio: 'inherit' | 'pipe'): VmProcess {
  const child = execa(QEMU[o.architecture], qemuArgs(o, files), { stdio: stdio === 'inherit' ? 'inherit' : 'pipe', reject: false, buffer: false });
  return {
    child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await child.catch(() => undefined);
    },
  };
}
