import { existsSync } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import path from 'node:path';
import type { Architecture } from '../config/schema.js';
import { UserError } from '../errors.js';

/** What a machine boots first; a boot flow names it (EFI for GRUB, a U-Boot build, …). */
export interface VmFirmware {
  /** Makes the machine's private state (e.g. EFI variables) in `stateDir`; returns QEMU's firmware arguments. */
  prepare(stateDir: string): Promise<string[]>;
  /** What it is, for people: "EFI (ovmf)". */
  description: string;
  /** The firmware's file; throws, saying which package has it, when it is not installed. */
  locate(): string;
  /** QEMU arguments for a watchdog that resets the machine under this firmware; default: the architecture's (QEMU_WATCHDOG). */
  watchdog?: string[];
}

/** EFI firmware for QEMU from Debian's packages: OVMF (amd64) and AAVMF (arm64). */
const EFI: Record<Architecture, { code: string[]; vars: string[]; pkg: string }> = {
  amd64: { code: ['/usr/share/OVMF/OVMF_CODE_4M.fd', '/usr/share/OVMF/OVMF_CODE.fd'], vars: ['/usr/share/OVMF/OVMF_VARS_4M.fd', '/usr/share/OVMF/OVMF_VARS.fd'], pkg: 'ovmf' },
  arm64: { code: ['/usr/share/AAVMF/AAVMF_CODE.fd'], vars: ['/usr/share/AAVMF/AAVMF_VARS.fd'], pkg: 'qemu-efi-aarch64' },
};

export function findFirmware(architecture: Architecture): { code: string; vars: string } {
  const f = EFI[architecture];
  for (const [i, code] of f.code.entries()) {
    if (existsSync(code) && existsSync(f.vars[i] ?? f.vars[0]!)) return { code, vars: f.vars[i] ?? f.vars[0]! };
  }
  throw new UserError(`no EFI firmware for ${architecture} VMs (looked for ${f.code.join(', ')})`, `apt-get install ${f.pkg}`);
}

/** The firmware code read-only, and a private copy of its variables that lives as long as the machine. */
export function efiFirmware(architecture: Architecture): VmFirmware {
  return {
    description: `EFI (${EFI[architecture].pkg})`,
    locate: () => findFirmware(architecture).code,
    async prepare(stateDir) {
      const firmware = findFirmware(architecture);
      const vars = path.join(stateDir, 'efivars.fd');
      await copyFile(firmware.vars, vars);
      return efiArgs(firmware.code, vars);
    },
  };
}

export function efiArgs(code: string, vars: string): string[] {
  return ['-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${code}`, '-drive', `if=pflash,format=raw,unit=1,file=${vars}`];
}
