import { describe, expect, it } from 'vitest';
import type { System } from '../../src/config/project.js';
import { SystemEntry } from '../../src/config/schema.js';
import { TargetFile, type Target } from '../../src/config/target.js';
import { defaultRootfsSize, minimumExt4Size, planLayout, sfdiskScript } from '../../src/image/layout.js';
import { grubConfig, grubEfi } from '../../src/targets/grub-efi.js';
import { bootFlowOf, canEmulate, findBootFlow } from '../../src/targets/registry.js';
import { ubootScript, uBoot } from '../../src/targets/u-boot.js';
import { efiArgs, efiFirmware } from '../../src/vm/firmware.js';
import { classifyExit, qemuArgs } from '../../src/vm/qemu.js';

const MiB = 2 ** 20;

const target = (overrides: Record<string, unknown> = {}): Target => ({
  name: 'efi',
  file: 'targets/efi.toml',
  origin: 'project',
  config: TargetFile.parse({
    description: 'x',
    architectures: ['amd64'],
    'partition-table': 'gpt',
    'boot-flow': 'grub-efi',
    'rauc-bootloader': 'grub',
    partitions: [
      { name: 'boot', role: 'boot', size: '64M', filesystem: 'vfat', type: 'esp' },
      { name: 'rootfsA', role: 'rootfs-a', filesystem: 'ext4' },
      { name: 'rootfsB', role: 'rootfs-b', filesystem: 'ext4' },
      { name: 'data', role: 'data', size: '128M', filesystem: 'ext4', type: 'bakery-data' },
    ],
    ...overrides,
  }),
});

const system = (image: Record<string, unknown> = {}, name = 'dev'): System => ({
  name,
  ...SystemEntry.parse({ layer: 'l', architecture: 'amd64', target: 'efi', image }),
});

describe('partition layout', () => {
  it('places partitions 1 MiB aligned, slots equal, data last, GPT tail free', () => {
    const l = planLayout(system(), target(), 500 * MiB);
    expect(l.partitions.map((p) => [p.name, p.start / MiB])).toEqual([
      ['boot', 1],
      ['rootfsA', 65],
      ['rootfsB', 65 + l.partitions[1]!.size / MiB],
      ['data', 65 + (2 * l.partitions[1]!.size) / MiB],
    ]);
    expect(l.partitions[1]!.size).toBe(defaultRootfsSize(500 * MiB));
    expect(l.partitions[1]!.size).toBe(l.partitions[2]!.size);
    for (const p of l.partitions) expect(p.start % MiB).toBe(0);
    const data = l.partitions[3]!;
    expect(l.size).toBe(data.start + data.size + MiB);
  });

  it('honours rootfs, data and image sizes; data takes what an image size leaves', () => {
    const l = planLayout(system({ 'rootfs-size': '1G', 'data-size': '256M' }), target(), 100 * MiB);
    expect(l.partitions[1]!.size).toBe(1024 * MiB);
    expect(l.partitions[3]!.size).toBe(256 * MiB);
    const sized = planLayout(system({ 'rootfs-size': '1G', size: '4G' }), target(), 100 * MiB);
    expect(sized.size).toBe(4096 * MiB);
    const data = sized.partitions[3]!;
    expect(data.start + data.size).toBe(4096 * MiB - MiB);
  });

  it('content that does not fit a set slot size names the partition, the needed and the given size', () => {
    expect(() => planLayout(system({ 'rootfs-size': '300M' }), target(), 400 * MiB)).toThrow(
      /partition rootfsA: the root filesystem needs 489 MiB \(content 400 MiB plus ext4 metadata\), but 300 MiB is given/,
    );
    expect(minimumExt4Size(400 * MiB)).toBeGreaterThan(400 * MiB);
  });

  it('an image size smaller than the layout is an error naming both sizes', () => {
    expect(() => planLayout(system({ 'rootfs-size': '1G', size: '1G' }), target(), 0)).toThrow(/the image size 1\.0 GiB is too small; the layout of target "efi" needs 2\.2 GiB/);
  });

  it('an MBR table cannot address more than 2 TiB', () => {
    const mbr = target({
      'partition-table': 'mbr',
      partitions: [
        { name: 'boot', role: 'boot', size: '64M', filesystem: 'vfat', type: 'c' },
        { name: 'a', role: 'rootfs-a', filesystem: 'ext4', type: '83' },
        { name: 'b', role: 'rootfs-b', filesystem: 'ext4', type: '83' },
        { name: 'data', role: 'data', filesystem: 'ext4', type: '83' },
      ],
    });
    expect(() => planLayout(system({ size: '3T' }), mbr, MiB)).toThrow(/MBR partition table addresses at most 2 TiB/);
    expect(sfdiskScript(planLayout(system(), mbr, MiB))).toMatch(/^label: dos\nlabel-id: 0x[0-9a-f]{8}/);
  });

  it('raw areas must end before the first partition', () => {
    const t = target({ 'first-partition-offset': '1M', raw: [{ name: 'u-boot', offset: '32K', 'max-size': '8M', input: 'u-boot' }] });
    expect(() => planLayout(system(), t, MiB)).toThrow(/raw area "u-boot".*overlaps the first partition/);
  });

  it('identifiers come from the system name: stable per system, different between systems', () => {
    const a1 = planLayout(system({}, 'one'), target(), MiB);
    const a2 = planLayout(system({}, 'one'), target(), MiB);
    const b = planLayout(system({}, 'two'), target(), MiB);
    expect(sfdiskScript(a1)).toBe(sfdiskScript(a2));
    expect(a1.diskId).not.toBe(b.diskId);
    expect(a1.partitions[1]!.fsId).toBe(a1.partitions[2]!.fsId); // both slots carry one image
    expect(a1.partitions[1]!.uuid).not.toBe(a1.partitions[2]!.uuid);
    expect(sfdiskScript(a1)).toMatch(/name="rootfsA"/);
  });
});

describe('GRUB A/B configuration', () => {
  const cfg = grubConfig(planLayout(system(), target(), MiB));
  it('chooses by named slot, passes root by partition label and rauc.slot', () => {
    expect(cfg).toContain('set bakery_part=gpt2; set bakery_label=rootfsA');
    expect(cfg).toContain('set bakery_part=gpt3; set bakery_label=rootfsB');
    expect(cfg).toContain('root=PARTLABEL=${bakery_label} ro rootwait rauc.slot=${slot}');
    expect(cfg).toContain('load_env --file ${envfile} ORDER A_OK A_TRY B_OK B_TRY');
    expect(cfg).toContain('save_env --file ${envfile} ORDER A_OK A_TRY B_OK B_TRY');
    // No menu index doubles as "nothing chosen" (the trap in RAUC's example config).
    expect(cfg).not.toMatch(/default=\$|INDEX/);
  });
});

describe('boot flows as plug-ins', () => {
  it('the registry maps boot-flow to its module; a flow without one is a draft', () => {
    expect(bootFlowOf(target()).name).toBe('grub-efi');
    expect(canEmulate(target({ emulated: true }))).toBe(true);
    expect(canEmulate(target())).toBe(false); // emulated = false in the target file
    expect(bootFlowOf(target({ 'boot-flow': 'u-boot' })).name).toBe('u-boot');
    expect(findBootFlow(target({ 'boot-flow': 'u-boot', draft: true }))).toBeUndefined();
    expect(findBootFlow(target({ 'boot-flow': 'jetson' }))).toBeUndefined();
    expect(() => bootFlowOf(target({ 'boot-flow': 'jetson' }))).toThrow(/target "efi" is a draft: bakery cannot assemble its images yet \(boot flow jetson, which has no module\)/);
  });

  it('grub-efi fills the boot partition from its own files, with the paths image assembly gives', () => {
    const layout = planLayout(system(), target(), MiB);
    const [boot, ...more] = grubEfi.bootPartitions(system(), layout);
    expect(more).toEqual([]);
    expect(boot!.role).toBe('boot');
    expect(Object.keys(boot!.files)).toEqual(['grub.cfg']);
    expect(boot!.files['grub.cfg']).toBe(grubConfig(layout));
    const argv = boot!.command({ rootfs: '/r', work: '/w', out: '/w/boot.img' });
    expect(argv.slice(0, 3)).toEqual(['esp', '/r', '/w/boot.img']);
    expect(argv).toContain('/w/grub.cfg');
    expect(argv).toContain('x86_64-efi');
    expect(argv.slice(-5)).toEqual(['ORDER=A B', 'A_OK=1', 'A_TRY=0', 'B_OK=0', 'B_TRY=0']);
    // The device recipe's parameters come from the system's settings.
    expect(grubEfi.recipeParameters(system(), target())).toEqual({ 'bakery-grub-efi': { panic: 10 } });
  });
});

describe('U-Boot A/B script', () => {
  const ubootTarget = () => target({ 'boot-flow': 'u-boot', 'rauc-bootloader': 'uboot' });
  const layout = planLayout(system(), ubootTarget(), MiB);
  const script = ubootScript(layout, 'amd64');
  it('keeps RAUC\'s uboot variables in uboot.env on the boot partition, without setexpr or saveenv', () => {
    expect(script).toContain('env import -c ${loadaddr} 0x4000 BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT');
    expect(script).toContain('env export -c -s 0x4000 ${loadaddr} BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT');
    expect(script).toContain('fatwrite ${bakery_env} ${loadaddr} uboot.env 0x4000');
    expect(script).toContain('setenv bakery_env "${bakery_dev}:1"');
    expect(script).not.toMatch(/setexpr|saveenv/);
  });
  it('counts a slot\'s tries down before booting it, skips one with none left, resets when all are used', () => {
    expect(script).toContain('test "${s}" = "A" && test ${BOOT_A_LEFT} -gt 0');
    expect(script).toContain('setenv bakery_slot B; setenv bakery_part 3; setenv bakery_label rootfsB');
    expect(script).toContain('elif test ${BOOT_B_LEFT} -ge 1; then setenv BOOT_B_LEFT 0; fi');
    expect(script).toContain('if test ${BOOT_A_LEFT} -ge 9; then setenv BOOT_A_LEFT 8;');
    expect(script).toMatch(/no slot has tries left[\s\S]*setenv BOOT_A_LEFT 3\n  setenv BOOT_B_LEFT 3[\s\S]*if test -z "\$\{bakery_slot\}"; then reset; fi/);
    expect(script).toContain('setenv bootargs "root=PARTLABEL=${bakery_label} ro rootwait rauc.slot=${bakery_slot} ${bakery_cmdline}"');
    expect(script).toContain('zboot ${kernel_addr_r} 0 ${bakery_initrd_addr} ${bakery_initrd_size}');
    expect(ubootScript(layout, 'arm64')).toContain('booti ${kernel_addr_r} ${bakery_initrd_addr}:${bakery_initrd_size} ${bakery_fdt}');
  });
  it('on arm64, the board\'s device tree from the slot wins over the firmware\'s', () => {
    const arm = ubootScript(layout, 'arm64');
    const fromSlot = arm.indexOf('if load ${bakery_root} ${fdt_addr_r} /boot/bakery.dtb; then setenv bakery_fdt ${fdt_addr_r}');
    expect(fromSlot).toBeGreaterThan(arm.indexOf('setenv bakery_fdt ${fdt_addr}'));
    expect(fromSlot).toBeGreaterThan(arm.indexOf('setenv bakery_root'));
    expect(fromSlot).toBeLessThan(arm.indexOf('booti ${kernel_addr_r}'));
    expect(script).not.toContain('bakery.dtb');
  });
  it('fills the boot partition with the script and a fresh environment (A first, B empty), and gives the device recipe its settings', () => {
    const [boot] = uBoot.bootPartitions(system(), layout);
    expect(boot!.files['boot.cmd']).toBe(script);
    const argv = boot!.command({ rootfs: '/r', work: '/w', out: '/w/boot.img' });
    expect(argv).toEqual(['uboot', '/w/boot.img', String(layout.partitions[0]!.size), layout.partitions[0]!.fsId, 'boot', 'x86', '/w/boot.cmd', '16384', 'BOOT_ORDER=A B', 'BOOT_A_LEFT=3', 'BOOT_B_LEFT=0']);
    expect(uBoot.recipeParameters(system(), ubootTarget())).toEqual({ 'bakery-uboot': { panic: 10, boot_partition: 'boot', env_size: 16384 } });
  });
});

describe('QEMU command line', () => {
  const argsFor = (architecture: 'amd64' | 'arm64') =>
    qemuArgs(
      { architecture, firmware: efiFirmware(architecture), image: 'x', stateDir: '/s', memoryMiB: 512, cpus: 1, accel: 'tcg', sshPort: 2222, restrictNetwork: true, extraDrives: [{ file: '/b/v2.raucb', serial: 'bakery-0' }] },
      { firmware: efiArgs('/fw/CODE.fd', '/s/efivars.fd'), overlay: '/s/disk.qcow2' },
    ).join(' ');

  it('boots EFI with a private variable store, an overlay disk and forwarded ssh', () => {
    const args = argsFor('amd64');
    // The accelerator chosen by the probe, never QEMU's own silent fallback.
    expect(args).toContain('-accel tcg');
    expect(args).not.toContain('kvm');
    // A guest reset ends QEMU (started again by the caller); the chipset watchdog may reset.
    expect(args).toContain('-no-reboot');
    expect(args).toContain('-global ICH9-LPC.noreboot=false');
    expect(args).toContain('if=pflash,format=raw,unit=0,readonly=on,file=/fw/CODE.fd');
    expect(args).toContain('file=/s/disk.qcow2,if=none,id=system,format=qcow2');
    // The system disk is the first virtio device, before any transfer disk (U-Boot boots "virtio 0").
    expect(args.indexOf('virtio-blk-pci,drive=system')).toBeLessThan(args.indexOf('virtio-blk-pci,drive=extra0'));
    expect(args).toContain('hostfwd=tcp:127.0.0.1:2222-:22,restrict=on');
    expect(args).toContain('-m 512');
  });

  it('gives arm64 VMs a PCI watchdog (virt has none)', () => {
    expect(argsFor('arm64')).toContain('-device i6300esb');
  });

  it('gives amd64 U-Boot VMs the PCI watchdog too: U-Boot leaves the chipset watchdog without registers', () => {
    const firmware = uBoot.vm!.firmware('amd64');
    const args = qemuArgs(
      { architecture: 'amd64', firmware, image: 'x', stateDir: '/s', memoryMiB: 512, cpus: 1, accel: 'tcg', sshPort: 2222, restrictNetwork: true, extraDrives: [] },
      { firmware: ['-bios', '/u/u-boot.rom'], overlay: '/s/disk.qcow2' },
    ).join(' ');
    expect(args).toContain('-device i6300esb');
    expect(args).not.toContain('ICH9-LPC.noreboot');
  });
});

describe('what a QEMU exit means', () => {
  it('a guest reset restarts, a power-off ends, anything else is a death with QEMU\'s words', () => {
    expect(classifyExit({ exitCode: 0, stderr: '', consoleTail: '[  12.3] reboot: Restarting system\n' })).toEqual({ kind: 'reset' });
    // A watchdog or panic reset prints nothing of its own.
    expect(classifyExit({ exitCode: 0, stderr: '', consoleTail: 'Kernel panic - not syncing: Attempted to kill init!' })).toEqual({ kind: 'reset' });
    expect(classifyExit({ exitCode: 0, stderr: '', consoleTail: '[  40.1] reboot: Power down\n' })).toEqual({ kind: 'poweroff' });
    const killed = classifyExit({ exitCode: 0, stderr: 'qemu-system-x86_64: terminating on signal 15 from pid 42 (kill)\n', consoleTail: 'login:' });
    expect(killed).toMatchObject({ kind: 'died', reason: expect.stringContaining('terminating on signal 15') });
    const aborted = classifyExit({ exitCode: 134, stderr: 'error: failed to set MSR 0x10a to 0x1\nqemu-system-x86_64: ../../target/i386/kvm/kvm.c:2909: kvm_buf_set_msrs: Assertion `ret == cpu->kvm_msr_buf->nmsrs\' failed.\n', consoleTail: '' });
    expect(aborted).toMatchObject({ kind: 'died', reason: expect.stringMatching(/code 134.*failed to set MSR 0x10a/) });
    expect(classifyExit({ signal: 'SIGKILL', stderr: '', consoleTail: '' })).toMatchObject({ kind: 'died', signal: 'SIGKILL' });
  });
});
