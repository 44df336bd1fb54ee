/** Checks the host for everything a build needs; every failed check carries its fix. */
import diskusage from 'diskusage';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { hostDebianArch } from '../../util/host.js';
import { formatSize } from '../../config/size.js';
import { UserError } from '../../errors.js';
import { dockerClient, dockerReachable } from '../../executor/docker.js';
import { localExecutorPossible } from '../../executor/open.js';
import { which } from '../../util/which.js';
import { chooseAccel } from '../../vm/accel.js';
import { findFirmware } from '../../vm/firmware.js';
import { QEMU_BINARY, QEMU_PACKAGE } from '../../vm/qemu-machine.js';
import type { Architecture } from '../../config/schema.js';
import { EXIT_CODE, type CommandRun } from '../command.js';
import { projectFor } from '../context.js';
import { bootFlowOf, canEmulate } from '../../targets/registry.js';
import type { VmFirmware } from '../../vm/firmware.js';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
  fix?: string;
}

/** Disk space a build needs at the cache: a few layers, their work trees and an image. */
export const NEEDED_FREE_BYTES = 8 * 1024 ** 3;

/** Tools a local executor (no Docker) runs, with the Debian package that has each. */
export const LOCAL_TOOLS: Record<string, string> = {
  mmdebstrap: 'mmdebstrap',
  'mkfs.ext4': 'e2fsprogs',
  'mkfs.vfat': 'dosfstools',
  mcopy: 'mtools',
  sfdisk: 'fdisk',
  mksquashfs: 'squashfs-tools',
  rauc: 'rauc',
  'grub-mkstandalone': 'grub-common',
  mkimage: 'u-boot-tools',
  mkenvimage: 'u-boot-tools',
  bmaptool: 'bmap-tools',
  openssl: 'openssl',
  zstd: 'zstd',
};

const QEMU_BINFMT: Record<string, string> = { amd64: 'qemu-x86_64', arm64: 'qemu-aarch64' };

export function binfmtCheck(architecture: string, host = hostDebianArch()): Check {
  const name = `run ${architecture} programs`;
  if (architecture === host) return { name, ok: true, detail: 'native' };
  const entry = `/proc/sys/fs/binfmt_misc/${QEMU_BINFMT[architecture]}`;
  const enabled = existsSync(entry) && readFileSync(entry, 'utf8').startsWith('enabled');
  return enabled
    ? { name, ok: true, detail: `binfmt ${QEMU_BINFMT[architecture]} enabled` }
    : {
        name,
        ok: false,
        detail: `no binfmt handler for ${architecture}: foreign-architecture layers cannot run their package scripts`,
        fix: `apt-get install qemu-user-static binfmt-support && mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc; update-binfmts --enable ${QEMU_BINFMT[architecture]}`,
      };
}

/** QEMU, its firmware, and the accelerator VMs of this architecture will get (and why). */
export async function vmChecks(architecture: Architecture): Promise<Check[]> {
  const checks: Check[] = [];
  const qemu = await which(QEMU_BINARY[architecture]);
  const img = await which('qemu-img');
  checks.push({
    name: `QEMU for ${architecture} VMs`,
    ok: Boolean(qemu && img),
    detail: qemu && img ? `${qemu}, ${img}` : `${qemu ? 'qemu-img' : QEMU_BINARY[architecture]} missing`,
    fix: qemu && img ? undefined : `apt-get install ${QEMU_PACKAGE[architecture]} qemu-utils`,
  });
  let firmwareOk = false;
  try {
    const fw = findFirmware(architecture);
    firmwareOk = true;
    checks.push({ name: `EFI firmware for ${architecture} VMs`, ok: true, detail: fw.code });
  } catch (err) {
    const e = err as UserError;
    checks.push({ name: `EFI firmware for ${architecture} VMs`, ok: false, detail: e.message, fix: e.hint });
  }
  if (qemu && firmwareOk) {
    const accel = await chooseAccel(architecture, 'auto');
    // TCG works everywhere, only slower: a fact to know, not a failure.
    checks.push({ name: `acceleration of ${architecture} VMs`, ok: true, detail: accel.accel === 'kvm' ? 'KVM (probed: the firmware runs)' : accel.reason });
  }
  return checks;
}

export async function run({ args, io }: CommandRun<{ executor: string }>) {
  const project = await projectFor(args, io);
  const checks: Check[] = [];
  const docker = dockerClient(io.env);
  const dockerOk = args.executor !== 'local' && (await dockerReachable(docker));
  if (args.executor !== 'local') {
    const detail = dockerOk ? `Docker ${(await docker.version()).Version} answers` : 'no Docker engine answers';
    checks.push({
      name: 'container engine',
      ok: dockerOk || (args.executor === 'auto' && localExecutorPossible()),
      detail: dockerOk ? detail : `${detail}${localExecutorPossible() ? '; builds will run on this host (root, Debian), with cache keys of their own (the tools differ from the worker image\'s)' : ''}`,
      fix: dockerOk ? undefined : 'start Docker (dockerd), or point DOCKER_HOST at a Docker-compatible socket (Podman works)',
    });
  }
  if (!dockerOk || args.executor === 'local') {
    for (const [tool, pkg] of Object.entries(LOCAL_TOOLS)) {
      const found = await which(tool);
      checks.push({ name: `tool ${tool}`, ok: Boolean(found), detail: found ?? 'missing', fix: found ? undefined : `apt-get install ${pkg}` });
    }
  }
  const architectures = new Set<string>([...project.systems.values()].map((s) => s.architecture));
  architectures.add(hostDebianArch());
  for (const a of [...architectures].sort()) checks.push(binfmtCheck(a));

  // What `run` and `test` need for the systems of targets that boot in QEMU.
  const vmArchitectures = new Set<Architecture>([...project.systems.values()].filter((s) => { const t = project.targets.get(s.target); return t !== undefined && canEmulate(t); }).map((s) => s.architecture));
  for (const a of [...vmArchitectures].sort()) checks.push(...(await vmChecks(a)));
  // Each boot flow's own firmware, for the systems that use it.
  const firmwares = new Map<string, VmFirmware>();
  for (const s of project.systems.values()) {
    const t = project.targets.get(s.target);
    if (t && canEmulate(t)) firmwares.set(`${t.config['boot-flow']} ${s.architecture}`, bootFlowOf(t).vm!.firmware(s.architecture));
  }
  for (const [key, firmware] of [...firmwares].sort()) {
    const [flow, architecture] = key.split(' ');
    const name = `${firmware.description} for ${architecture} VMs of the ${flow} flow`;
    try {
      checks.push({ name, ok: true, detail: firmware.locate() });
    } catch (err) {
      checks.push({ name, ok: false, detail: (err as UserError).message, fix: (err as UserError).hint });
    }
  }

  await mkdir(project.cacheDir, { recursive: true });
  const { available } = await diskusage.check(project.cacheDir);
  checks.push({
    name: 'free disk space',
    ok: available >= NEEDED_FREE_BYTES,
    detail: `${formatSize(available)} free at ${project.cacheDir} (a build needs about ${formatSize(NEEDED_FREE_BYTES)})`,
    fix: available >= NEEDED_FREE_BYTES ? undefined : 'free space, run `bakery cache clean --older-than 7d`, or set BAKERY_CACHE_DIR to a larger disk',
  });

  if (!args.json) {
    for (const c of checks) {
      io.stdout.write(`${c.ok ? 'ok  ' : 'FAIL'}  ${c.name}: ${c.detail}\n`);
      if (!c.ok && c.fix) io.stdout.write(`      fix: ${c.fix}\n`);
    }
  }
  const failed = checks.filter((c) => !c.ok);
  if (failed.length && !args.json) throw new UserError(`${failed.length} check${failed.length > 1 ? 's' : ''} failed`);
  return { [EXIT_CODE]: failed.length ? 1 : 0, checks };
}
