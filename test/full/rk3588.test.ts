/**
 * Full suite: an RK3588 system (the demo layer, arm64, built under qemu-user) on the built-in
 * `rk3588` target. No RK3588 board can boot in QEMU, so the image is checked with the real
 * tools a board's boot would depend on: the loader blob's bytes at sector 64, the partitions
 * after 16 MiB with the boot partition marked bootable, boot.scr decompiled by dumpimage, the
 * Rock 5B device tree in slot A where the script loads it, the RK3588 console on the command
 * line, and a bundle that `rauc info` verifies.
 */
import { execa } from 'execa';
import { cp, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BAKERY_HOME } from '../../src/util/paths.js';
import { bakery } from '../helpers.js';

const MiB = 1024 * 1024;
const SYSTEM = 'board';
const mtools = { env: { MTOOLS_SKIP_CHECK: '1' } };

let dir: string;
let built: { partitions: { name: string; start: number; size: number }[] };
const image = () => path.join(dir, 'build', SYSTEM, 'system.img');
// The size of a real u-boot-rockchip.bin (idbloader, then u-boot.itb at 8 MiB on the disk), with a pattern to find.
const blob = Buffer.from(Array.from({ length: 9_500_000 }, (_, i) => (i * 13 + 5) & 0xff));

async function extract(name: string): Promise<string> {
  const p = built.partitions.find((x) => x.name === name)!;
  const file = path.join(dir, `${name}.part`);
  await execa('dd', [`if=${image()}`, `of=${file}`, 'bs=1M', `skip=${p.start / MiB}`, `count=${p.size / MiB}`, 'conv=sparse', 'status=none']);
  return file;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'bakery-rk3588-'));
  // The repository's demo product (layer, recipe, keys) on the rk3588 target.
  for (const entry of ['keys', 'layers', 'recipes']) await cp(path.join(BAKERY_HOME, entry), path.join(dir, entry), { recursive: true });
  await writeFile(path.join(dir, 'u-boot-rockchip.bin'), blob);
  await writeFile(
    path.join(dir, 'systems.toml'),
    `[systems.${SYSTEM}]\nlayer = "demo"\narchitecture = "arm64"\ntarget = "rk3588"\nversion = "1.0.0"\n[systems.${SYSTEM}.inputs]\nu-boot = "u-boot-rockchip.bin"\n`,
  );
  const r = await bakery(['bake', 'image', SYSTEM, '--json', '--project', dir]);
  expect(r.code, r.stderr).toBe(0);
  built = JSON.parse(r.stdout);
}, 3 * 60 * 60_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('rk3588: image structure', () => {
  it('the loader blob sits at sector 64, byte for byte, and the partitions start at 16 MiB', async () => {
    const fd = await open(image(), 'r');
    const head = Buffer.alloc(16 * MiB - 32 * 1024);
    await fd.read(head, 0, head.length, 32 * 1024);
    await fd.close();
    expect(head.subarray(0, blob.length).equals(blob)).toBe(true);
    expect(head.subarray(blob.length).every((b) => b === 0)).toBe(true);
    const table = JSON.parse((await execa('sfdisk', ['-J', image()])).stdout).partitiontable;
    expect(table.label).toBe('gpt');
    expect(table.partitions.map((p: { name: string }) => p.name)).toEqual(['boot', 'rootfsA', 'rootfsB', 'data']);
    expect(table.partitions[0].start * 512).toBe(16 * MiB);
    // Distro boot looks for the script on the partitions marked bootable.
    expect(table.partitions[0].attrs).toBe('LegacyBIOSBootable');
  });

  it('boot.scr decompiles to the A/B logic, next to a fresh environment', async () => {
    const boot = await extract('boot');
    await execa('fsck.vfat', ['-n', boot]);
    await execa('mcopy', ['-i', boot, '::boot.scr', '::uboot.env', dir], mtools);
    const listing = (await execa('dumpimage', ['-l', path.join(dir, 'boot.scr')])).stdout;
    expect(listing).toMatch(/AArch64 Linux Script \(uncompressed\)/);
    await execa('dumpimage', ['-T', 'script', '-p', '0', '-o', path.join(dir, 'boot.cmd'), path.join(dir, 'boot.scr')]);
    const script = await readFile(path.join(dir, 'boot.cmd'), 'utf8');
    expect(script).toContain('env import -c ${loadaddr} 0x4000 BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT');
    expect(script).toContain('setenv bakery_slot A; setenv bakery_part 2; setenv bakery_label rootfsA');
    expect(script).toContain('if load ${bakery_root} ${fdt_addr_r} /boot/bakery.dtb; then setenv bakery_fdt ${fdt_addr_r}');
    expect(script).toContain('booti ${kernel_addr_r} ${bakery_initrd_addr}:${bakery_initrd_size} ${bakery_fdt}');
    expect(script).not.toMatch(/setexpr|saveenv/);
    // uboot.env: a CRC32 and the variables, as mkenvimage writes it and fw_printenv reads it.
    const env = await readFile(path.join(dir, 'uboot.env'));
    expect(env.length).toBe(0x4000);
    expect(env.subarray(4).toString('latin1')).toContain('BOOT_ORDER=A B\0BOOT_A_LEFT=3\0BOOT_B_LEFT=0\0');
  });

  it('slot A carries the Rock 5B device tree from its own kernel, and the RK3588 console', async () => {
    const slot = await extract('rootfsA');
    await execa('fsck.ext4', ['-fn', slot]);
    const dtb = path.join(dir, 'bakery.dtb');
    await execa('debugfs', ['-R', `dump /boot/bakery.dtb ${dtb}`, slot]);
    expect((await execa('fdtget', [dtb, '/', 'compatible'])).stdout).toMatch(/^radxa,rock-5b rockchip,rk3588$/);
    const hook = (await execa('debugfs', ['-R', 'cat /etc/kernel/postinst.d/zz-bakery-dtb', slot])).stdout;
    expect(hook).toContain('rockchip/rk3588-rock-5b.dtb');
    const cmdline = (await execa('debugfs', ['-R', 'cat /boot/bakery-uboot.txt', slot])).stdout;
    expect(cmdline).toMatch(/^bakery_cmdline=panic=10 console=tty0 console=ttyS2,1500000 quiet$/m);
    const conf = (await execa('debugfs', ['-R', 'cat /etc/rauc/system.conf', slot])).stdout;
    expect(conf).toMatch(/^bootloader=uboot$/m);
  });
});

describe('rk3588: bundle', () => {
  it('a verity bundle for the board that rauc info verifies', async () => {
    const r = await bakery(['bake', 'bundle', SYSTEM, '--json', '--project', dir]);
    expect(r.code, r.stderr).toBe(0);
    const bundle = path.join(dir, 'build', SYSTEM, 'system.raucb');
    const info = (await execa('rauc', ['info', '--keyring', path.join(dir, 'keys/dev.cert.pem'), '--output-format=shell', bundle])).stdout;
    expect(info).toContain(`RAUC_MF_COMPATIBLE='${SYSTEM}'`);
    expect(info).toContain("RAUC_MF_VERSION='1.0.0'");
    expect(info).toMatch(/RAUC_IMAGE_CLASS_\d+='rootfs'/);
  });
});
