import { existsSync } from 'node:fs';
import type { Architecture } from '../config/schema.js';
import { UserError } from '../errors.js';

/** EFI firmware for QEMU from Debian's packages: OVMF (amd64) and AAVMF (arm64). */
const FIRMWARE: Record<Architecture, { code: string[]; vars: string[]; pkg: string }> = {
  amd64: { code: ['/usr/share/OVMF/OVMF_CODE_4M.fd', '/usr/share/OVMF/OVMF_CODE.fd'], vars: ['/usr/share/OVMF/OVMF_VARS_4M.fd', '/usr/share/OVMF/OVMF_VARS.fd'], pkg: 'ovmf' },
  arm64: { code: ['/usr/share/AAVMF/AAVMF_CODE.fd'], vars: ['/usr/share/AAVMF/AAVMF_VARS.fd'], pkg: 'qemu-efi-aarch64' },
};

export function findFirmware(architecture: Architecture): { code: string; vars: string } {
  const f = FIRMWARE[architecture];
  for (const [i, code] of f.code.entries()) {
    if (existsSync(code) && existsSync(f.vars[i] ?? f.vars[0]!)) return { code, vars: f.vars[i] ?? f.vars[0]! };
  }
  throw new UserError(`no EFI firmware for ${architecture} VMs (looked for ${f.code.join(', ')})`, `apt-get install ${f.pkg}`);
}
