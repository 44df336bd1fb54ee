/**
 * The demo EFI system built for real, checked with the tools a user would use (sfdisk, fsck,
 * mtools, bmaptool), rebuilt byte-identically, and booted in QEMU.
 */
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { cp, mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BAKERY_HOME, BUILTIN_DIR } from '../../src/util/paths.js';
import { bakery } from '../helpers.js';
import { cycloneDxProblems, spdxProblems } from '../sbom-checks.js';
import { TestVm } from './vm.js';

const SYSTEM = 'demo-efi-amd64';
const OUT = path.join(BAKERY_HOME, 'build', SYSTEM);
const IMAGE = path.join(OUT, 'system.img');
const MiB = 2 ** 20;

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

interface SfdiskPartition { node: string; start: number; size: number; type: string; uuid: string; name: string }

let scratch: string;
let built: { image: string; partitions: { name: string; start: number; size: number; role: string }[]; layers: { status: string }[] };

/** Copies one partition out of the image (sparse) so that fsck and friends can read it. */
async function extract(name: string): Promise<string> {
  const p = built.partitions.find((x) => x.name === name)!;
  const file = path.join(scratch, `${name}.img`);
  await execa('dd', [`if=${IMAGE}`, `of=${file}`, 'bs=1M', `skip=${p.start / MiB}`, `count=${p.size / MiB}`, 'conv=sparse', 'status=none']);
  return file;
}

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'bakery-e2e-'));
  const r = await bakery(['bake', 'image', SYSTEM, '--json', '--project', BAKERY_HOME]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  built = JSON.parse(r.stdout);
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe(`${SYSTEM}: image structure`, () => {
  it('has a GPT with boot · rootfsA · rootfsB · data, 1 MiB aligned, slots of one size', async () => {
    const { stdout } = await execa('sfdisk', ['-J', IMAGE]);
    const table = JSON.parse(stdout).partitiontable as { label: string; id: string; partitions: SfdiskPartition[] };
    expect(table.label).toBe('gpt');
    expect(table.partitions.map((p) => p.name)).toEqual(['boot', 'rootfsA', 'rootfsB', 'data']);
    expect(table.partitions[0]!.type).toBe('C12A7328-F81F-11D2-BA4B-00A0C93EC93B');
    for (const p of table.partitions) expect((p.start * 512) % MiB).toBe(0);
    expect(table.partitions[1]!.size).toBe(table.partitions[2]!.size);
    const info = JSON.parse(await readFile(path.join(OUT, 'build-info.json'), 'utf8'));
    expect(info).toMatchObject({ system: SYSTEM, version: '1.0.0', target: 'generic-efi', architecture: 'amd64' });
    expect(info.layers.map((l: { name: string }) => l.name)).toEqual(['debian-trixie', SYSTEM]);
  });

  it('boot partition: FAT that fsck accepts, with GRUB, its config and the initial A/B environment', async () => {
    const boot = await extract('boot');
    await execa('fsck.vfat', ['-n', boot]);
    const { stdout: listing } = await execa('mdir', ['-/', '-b', '-i', boot, '::'], { env: { MTOOLS_SKIP_CHECK: '1' } });
    expect(listing).toContain('::/EFI/BOOT/BOOTX64.EFI');
    expect(listing).toContain('::/EFI/bakery/grub.cfg');
    const env = (await execa('mtype', ['-i', boot, '::/EFI/bakery/grubenv'], { env: { MTOOLS_SKIP_CHECK: '1' } })).stdout;
    expect(env).toMatch(/^# GRUB Environment Block/);
    for (const v of ['ORDER=A B', 'A_OK=1', 'A_TRY=0', 'B_OK=0', 'B_TRY=0']) expect(env).toContain(v);
    // GRUB can only rewrite a pre-allocated 1 KiB block.
    expect([1023, 1024]).toContain(Buffer.byteLength(env));
    const cfg = (await execa('mtype', ['-i', boot, '::/EFI/bakery/grub.cfg'], { env: { MTOOLS_SKIP_CHECK: '1' } })).stdout;
    expect(cfg).toContain('root=PARTLABEL=${bakery_label}');
    expect(cfg).toContain('rauc.slot=${slot}');
  });

  it('rootfs A: clean ext4 with kernel, initramfs with the overlay script, no ssh host keys, empty machine-id', async () => {
    const rootfs = await extract('rootfsA');
    await execa('fsck.ext4', ['-fn', rootfs]);
    const debugfs = async (cmd: string) => (await execa('debugfs', ['-R', cmd, rootfs])).stdout;
    const boot = await debugfs('ls -l /boot');
    expect(boot).toMatch(/vmlinuz-\d/);
    expect(boot).toMatch(/initrd\.img-\d/);
    expect(boot).toContain('bakery-grub.cfg');
    const initrdName = /(initrd\.img-\S+)/.exec(boot)![1]!;
    await execa('debugfs', ['-R', `dump /boot/${initrdName} ${path.join(scratch, 'initrd.img')}`, rootfs]);
    const { stdout: files } = await execa('sh', ['-c', `unmkinitramfs ${path.join(scratch, 'initrd.img')} ${path.join(scratch, 'initrd')} && find ${path.join(scratch, 'initrd')} -name bakery -o -name 'overlay.ko*'`]);
    expect(files).toContain('scripts/init-bottom/bakery');
    expect(files).toMatch(/overlay\.ko/);
    expect(await debugfs('ls /etc/ssh/hostkeys')).not.toMatch(/ssh_host_/);
    expect(await debugfs('ls /etc/ssh')).not.toMatch(/ssh_host_\w+_key/);
    expect((await debugfs('stat /etc/machine-id')).match(/Size: (\d+)/)![1]).toBe('0');
    // Slot B is empty in a fresh image: zeros until an update writes it.
    const b = built.partitions.find((p) => p.name === 'rootfsB')!;
    const { stdout: head } = await execa('sh', ['-c', `dd if=${IMAGE} bs=1M skip=${b.start / MiB} count=2 status=none | tr -d '\\0' | wc -c`]);
    expect(head.trim()).toBe('0');
  });

  it('data: clean, empty ext4', async () => {
    const data = await extract('data');
    await execa('fsck.ext4', ['-fn', data]);
    expect((await execa('dumpe2fs', ['-h', data])).stdout).toMatch(/Filesystem volume name:\s+data/);
  });

  it('the bmap file is valid for the real bmaptool and reproduces the image', async () => {
    const copy = path.join(scratch, 'copy.img');
    await execa('bmaptool', ['copy', '--bmap', `${IMAGE}.bmap`, IMAGE, copy]);
    expect(await sha256(copy)).toBe(await sha256(IMAGE));
  });

  it('a second build with the same layer cache is byte-identical, and a no-op is cheap', async () => {
    const first = await sha256(IMAGE);
    const noop = await bakery(['bake', 'image', SYSTEM, '--json', '--project', BAKERY_HOME]);
    expect(noop.code).toBe(0);
    const built = JSON.parse(noop.stdout) as { layers: { key: string; status: string }[]; partitions: { name: string; start: number; size: number }[] };
    expect(built.layers.map((l) => l.status)).toEqual(['hit', 'hit']);
    // The dry run's keys are the build's, each found in the cache; its table is the build's where fixed.
    const dry = await bakery(['bake', 'image', SYSTEM, '--dry-run', '--json', '--project', BAKERY_HOME]);
    expect(dry.code, dry.stderr).toBe(0);
    const planned = JSON.parse(dry.stdout) as { plan: { key: string; cached: boolean }[]; layout: { partitions: { name: string; start: number | null; size: number | null }[] } };
    expect(planned.plan.map((l) => [l.key, l.cached])).toEqual(built.layers.map((l) => [l.key, true]));
    expect(planned.layout.partitions[0]).toEqual(expect.objectContaining({ name: built.partitions[0]!.name, start: built.partitions[0]!.start, size: built.partitions[0]!.size }));
    await rm(OUT, { recursive: true, force: true });
    const again = await bakery(['bake', 'image', SYSTEM, '--json', '--project', BAKERY_HOME]);
    expect(again.code).toBe(0);
    expect(await sha256(IMAGE)).toBe(first);
  });
});

describe(`${SYSTEM}: supply chain records`, () => {
  it('SBOMs (SPDX 2.3, CycloneDX 1.6) validate and list exactly the packages dpkg reports in slot A, each with its .deb\'s checksum', async () => {
    const spdx = JSON.parse(await readFile(`${IMAGE}.spdx.json`, 'utf8'));
    const cdx = JSON.parse(await readFile(`${IMAGE}.cdx.json`, 'utf8'));
    expect(spdxProblems(spdx)).toEqual([]);
    expect(await cycloneDxProblems(cdx)).toEqual([]);
    const imageSha = await sha256(IMAGE);
    expect(spdx.packages[0]).toMatchObject({ name: 'system.img', checksums: [{ algorithm: 'SHA256', checksumValue: imageSha }] });
    expect(cdx.metadata.component.hashes).toEqual([{ alg: 'SHA-256', content: imageSha }]);
    // dpkg's own database in the slot, read with debugfs from the image's partition.
    const slot = await extract('rootfsA');
    const status = (await execa('debugfs', ['-R', 'cat /var/lib/dpkg/status', slot])).stdout;
    const installed = status.split('\n\n').filter((s) => /^Status: install ok installed$/m.test(s))
      .map((s) => `${/^Package: (.+)$/m.exec(s)![1]} ${/^Version: (.+)$/m.exec(s)![1]} ${/^Architecture: (.+)$/m.exec(s)![1]}`).sort();
    expect(installed.length).toBeGreaterThan(100);
    const debs = spdx.packages.slice(1) as { name: string; versionInfo: string; checksums?: unknown[]; externalRefs: { referenceLocator: string }[] }[];
    expect(debs.map((p) => `${p.name} ${p.versionInfo} ${/arch=([^&]+)/.exec(p.externalRefs[0]!.referenceLocator)![1]}`).sort()).toEqual(installed);
    expect(cdx.components.map((c: { name: string; version: string }) => `${c.name} ${c.version}`).sort()).toEqual(installed.map((l) => l.split(' ').slice(0, 2).join(' ')).sort());
    // Every package came from the mirror through apt: its .deb's checksum is known.
    expect(debs.filter((p) => !p.checksums).map((p) => p.name)).toEqual([]);
  });

  it('bakery.lock holds the build\'s packages; --locked builds with it and refuses another version, naming it', async () => {
    const lock = JSON.parse(await readFile(path.join(BAKERY_HOME, 'bakery.lock'), 'utf8'));
    const entry = lock.systems[SYSTEM] as { layers: { layer: string; packages: { name: string; version: string }[] }[] };
    const info = JSON.parse(await readFile(path.join(OUT, 'build-info.json'), 'utf8'));
    expect(entry.layers.flatMap((l) => l.packages).length).toBe(info.packages.length);
    const dir = await mkdtemp(path.join(tmpdir(), 'bakery-lock-'));
    try {
      for (const entry of ['keys', 'layers', 'recipes', 'systems.toml', 'bakery.lock']) await cp(path.join(BAKERY_HOME, entry), path.join(dir, entry), { recursive: true });
      const ok = await bakery(['bake', 'image', SYSTEM, '--locked', '--json', '--project', dir]);
      expect(ok.code, ok.stderr).toBe(0);
      // A package of the platform layer (cached) at another version: found once the layers are there.
      const base = entry.layers[0]!.packages.find((p) => p.name === 'base-files')!;
      const edited = (await readFile(path.join(dir, 'bakery.lock'), 'utf8')).replace(`"name":"base-files","architecture":"amd64","version":"${base.version}"`, '"name":"base-files","architecture":"amd64","version":"1.0"');
      await writeFile(path.join(dir, 'bakery.lock'), edited);
      const refused = await bakery(['bake', 'image', SYSTEM, '--locked', '--project', dir]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(`base-files:amd64 (layer debian-trixie): locked 1.0, now ${base.version}`);
      // A layer to build (a recipe changed): the mirror is asked first, and nothing is built.
      await writeFile(path.join(dir, 'recipes', 'demo-app', 'steps', 'enable.sh'), `${await readFile(path.join(dir, 'recipes', 'demo-app', 'steps', 'enable.sh'), 'utf8')}\n# changed\n`);
      const ssh = entry.layers.at(-1)!.packages.find((p) => p.name === 'openssh-server')!;
      await writeFile(path.join(dir, 'bakery.lock'), edited.replace(`"name":"openssh-server","architecture":"amd64","version":"${ssh.version}"`, '"name":"openssh-server","architecture":"amd64","version":"1:1.0p1-1"'));
      const early = await bakery(['bake', 'image', SYSTEM, '--locked', '--json', '--project', dir]);
      expect(early.code).toBe(1);
      const message = JSON.parse(early.stdout).error.message as string;
      expect(message).toContain('the mirror now offers other versions');
      expect(message).toContain(`openssh-server:amd64 (layer ${SYSTEM}): locked 1:1.0p1-1, now ${ssh.version}`);
      const dry = await bakery(['bake', 'image', SYSTEM, '--dry-run', '--json', '--project', dir]);
      expect((JSON.parse(dry.stdout) as { plan: { cached: boolean }[] }).plan.map((l) => l.cached)).toEqual([true, false]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('bakery diff: a package at another version shows as upgraded in its layer', async () => {
    const info = JSON.parse(await readFile(path.join(OUT, 'build-info.json'), 'utf8'));
    const older = structuredClone(info);
    const bash = older.packages.find((p: { name: string }) => p.name === 'bash');
    bash.version = '5.0-1';
    older.version = '0.9.0';
    const file = path.join(scratch, 'older-build-info.json');
    await writeFile(file, JSON.stringify(older));
    const r = await bakery(['diff', file, OUT]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`${SYSTEM}: 0.9.0 → ${info.version}`);
    expect(r.stdout).toContain(`    ↑ bash:amd64 5.0-1 → ${info.packages.find((p: { name: string }) => p.name === 'bash').version}`);
    const same = await bakery(['diff', OUT, path.join(OUT, 'build-info.json'), '--json']);
    expect(JSON.parse(same.stdout).systems[0].identical).toBe(true);
  });
});

describe('image assembly is generic: a raw area of a project target', () => {
  // The demo system on a project target of its own: the generic EFI layout moved to 16 MiB with
  // a raw area at 32 KiB (where RK3588 boards read their loader). Same layers (cache hits).
  it('writes the blob at its offset, partitions after it, and refuses a blob larger than its area', async () => {
    // The raw area goes before the partitions: a TOML table runs to the next header.
    const base = await readFile(path.join(BUILTIN_DIR, 'targets', 'generic-efi.toml'), 'utf8');
    const [head, ...parts] = base.split('\n[[partitions]]');
    const toml = `${head}\nfirst-partition-offset = "16M"\n\n[[raw]]\nname = "loader"\noffset = "32K"\nmax-size = "1M"\ninput = "loader"\n${parts.map((p) => `\n[[partitions]]${p}`).join('')}`;
    const blob = Buffer.from(Array.from({ length: 300 * 1024 }, (_, i) => (i * 7 + 3) & 0xff));
    const systems = (await readFile(path.join(BAKERY_HOME, 'systems.toml'), 'utf8')).split('[systems.demo-efi-arm64]')[0]!.replace('target = "generic-efi"', 'target = "efi-loader"');
    const dir = await mkdtemp(path.join(tmpdir(), 'bakery-raw-'));
    try {
      // The demo product (its layer and recipe) and its keys, on the project's own target.
      for (const entry of ['keys', 'layers', 'recipes']) await cp(path.join(BAKERY_HOME, entry), path.join(dir, entry), { recursive: true });
      await mkdir(path.join(dir, 'targets'));
      await writeFile(path.join(dir, 'targets', 'efi-loader.toml'), toml);
      await writeFile(path.join(dir, 'loader.bin'), blob);
      await writeFile(path.join(dir, 'systems.toml'), `${systems}\n[systems.${SYSTEM}.inputs]\nloader = "loader.bin"\n`);
      const r = await bakery(['bake', 'image', SYSTEM, '--json', '--project', dir]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout) as typeof built;
      expect(out.layers.map((l) => l.status)).toEqual(['hit', 'hit']);
      expect(out.partitions[0]!.start).toBe(16 * MiB);
      const image = path.join(dir, 'build', SYSTEM, 'system.img');
      const head = Buffer.alloc(blob.length + 4096);
      const fd = await open(image, 'r');
      await fd.read(head, 0, head.length, 32 * 1024);
      await fd.close();
      expect(head.subarray(0, blob.length).equals(blob)).toBe(true);
      expect(head.subarray(blob.length).every((b) => b === 0)).toBe(true);
      const { stdout } = await execa('sfdisk', ['-J', image]);
      expect(JSON.parse(stdout).partitiontable.partitions.map((p: { name: string }) => p.name)).toEqual(['boot', 'rootfsA', 'rootfsB', 'data']);
      const { stdout: esp } = await execa('mdir', ['-i', `${image}@@${16 * MiB}`, '-b', '::/EFI/bakery'], { env: { MTOOLS_SKIP_CHECK: '1' } });
      expect(esp).toContain('grub.cfg');

      await writeFile(path.join(dir, 'loader.bin'), Buffer.alloc(2 * MiB, 1));
      const big = await bakery(['bake', 'image', SYSTEM, '--project', dir]);
      expect(big.code).not.toBe(0);
      expect(big.stderr).toMatch(/loader\.bin" is 2097152 bytes; the area at offset 32768 holds 1048576/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe(`${SYSTEM}: booted in QEMU`, () => {
  let vm: TestVm;
  beforeAll(async () => {
    // A disk 1 GiB larger than the image, as on a real device: /data grows into it.
    vm = new TestVm(IMAGE, 'amd64', (await import('node:fs')).statSync(IMAGE).size + 2 ** 30);
    await vm.boot();
  });
  afterAll(async () => {
    await vm?.stop();
  });

  let hostKey: string;
  let machineId: string;

  it('boots slot A with an overlay root whose lower layer is read-only', async () => {
    expect(await vm.sh('cat /proc/cmdline')).toContain('root=PARTLABEL=rootfsA');
    expect(await vm.sh('cat /proc/cmdline')).toContain('rauc.slot=A');
    expect(await vm.sh('findmnt -n -o FSTYPE /')).toBe('overlay');
    expect(await vm.sh('findmnt -n -o SOURCE,OPTIONS /run/bakery/ro')).toMatch(/^\/dev\/vda2\s+ro\b/);
    expect(await vm.sh('findmnt -n -o FSTYPE /run/bakery/rw')).toBe('tmpfs');
    expect((await vm.console.run('touch /run/bakery/ro/probe')).code).not.toBe(0);
    expect(await vm.sh('systemctl is-active demo-hello.service')).toBe('active');
  });

  it('/data is mounted and grown to the end of the disk', async () => {
    expect(await vm.sh('readlink -f $(findmnt -n -o SOURCE /data)')).toBe('/dev/vda4');
    await vm.sh('for i in $(seq 60); do systemctl is-active -q bakery-grow-data.service && break; sleep 1; done; systemctl is-active bakery-grow-data.service');
    const [diskBytes, partStart, partBytes] = (await vm.sh('echo $(blockdev --getsize64 /dev/vda) $(( $(cat /sys/class/block/vda4/start) * 512 )) $(blockdev --getsize64 /dev/vda4)')).split(' ').map(Number);
    // Grown to the last usable MiB (GPT keeps its backup table in the last sectors).
    expect(diskBytes! - (partStart! + partBytes!)).toBeLessThan(MiB);
    const fsBytes = Number(await vm.sh("df -B1 --output=size /data | tail -n1"));
    expect(fsBytes).toBeGreaterThan(1024 * MiB);
  });

  it('keeps identity on /data: host keys and machine-id made on the device', async () => {
    await vm.sh('for i in $(seq 60); do [ -s /etc/ssh/hostkeys/ssh_host_ed25519_key.pub ] && break; sleep 1; done');
    hostKey = await vm.sh('cat /etc/ssh/hostkeys/ssh_host_ed25519_key.pub');
    machineId = await vm.sh('cat /etc/machine-id');
    expect(machineId).toMatch(/^[0-9a-f]{32}$/);
    expect(await vm.sh('findmnt -n -o SOURCE /etc/ssh/hostkeys')).toBe('/dev/disk/by-partlabel/data[/.bakery/persist/etc/ssh/hostkeys]');
    await vm.sh('echo kept > /data/marker && echo gone > /root-overlay-marker && sync');
  });

  it('confirms slot A once its health checks pass, with no failed unit, RAUC configured from the system', async () => {
    await vm.sh('systemctl start bakery-mark-good.service', 300_000);
    expect(await vm.sh('cat /run/bakery/health')).toContain('status=passed');
    expect(await vm.sh('systemctl list-units --state=failed --no-legend --plain | wc -l')).toBe('0');
    const status = JSON.parse(await vm.sh('rauc status --detailed --output-format=json 2>/dev/null'));
    expect(status.booted).toBe('A');
    expect(status.compatible).toBe(SYSTEM);
    const conf = await vm.sh('cat /etc/rauc/system.conf');
    expect(conf).toContain('bundle-formats=-plain');
    expect(conf).toContain('data-directory=/var/lib/rauc');
    expect(conf).toContain('grubenv=/boot/efi/EFI/bakery/grubenv');
    // The keyring is the project's certificate, byte for byte (the key's absence: bundle.test.ts).
    expect(await vm.sh('cat /etc/rauc/keyring.pem')).toBe((await readFile(path.join(BAKERY_HOME, 'keys/dev.cert.pem'), 'utf8')).trim());
    expect(await vm.sh('grub-editenv /boot/efi/EFI/bakery/grubenv list')).toMatch(/A_OK=1[\s\S]*A_TRY=0/);
  });

  it('after a reboot: / writes are gone, /data and identity are kept, slot A again', async () => {
    await vm.reboot();
    expect((await vm.console.run('test -e /root-overlay-marker')).code).toBe(1);
    expect(await vm.sh('cat /data/marker')).toBe('kept');
    expect(await vm.sh('cat /etc/ssh/hostkeys/ssh_host_ed25519_key.pub')).toBe(hostKey);
    expect(await vm.sh('cat /etc/machine-id')).toBe(machineId);
    expect(await vm.sh('cat /proc/cmdline')).toContain('rauc.slot=A');
  });
});

describe(`${SYSTEM}: the repository's own test workflow`, () => {
  it('`bakery test demo-efi-amd64` passes tests/demo.toml and writes JUnit', async () => {
    const r = await bakery(['test', SYSTEM, '--json', '--project', BAKERY_HOME]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.runs.map((x: { workflow: string; status: string }) => `${x.workflow}:${x.status}`)).toEqual(['demo:passed']);
    const xml = await readFile(out.junit, 'utf8');
    expect(xml).toMatch(/<testsuite name="demo \[demo-efi-amd64\]" tests="11" failures="0" skipped="0"/);
  });
});
