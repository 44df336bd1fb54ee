/**
 * The product developer's loop on the demo system: a change to the top recipe (demo-app) redoes
 * that recipe and what follows it — never the platform (kernel, systemd, boot, RAUC, the initramfs)
 * below — and the image it makes holds exactly what a from-scratch build of the same sources holds;
 * `bakery diff` of the two builds names the one file changed, and the build's file list is the slot's.
 */
import { execa } from 'execa';
import { appendFile, cp, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SystemDiff } from '../../src/sbom/diff.js';
import { readFileList } from '../../src/sbom/files.js';
import { BAKERY_HOME } from '../../src/util/paths.js';
import { bakery } from '../helpers.js';

const SYSTEM = 'demo-efi-amd64';
const MiB = 2 ** 20;

type Report = {
  image: string;
  key: string;
  partitions: { name: string; start: number; size: number }[];
  layers: { layer: string; status: string; snapshots: { step: string; status: string }[] }[];
};

let scratch: string;
let project: string;

async function bake(env: NodeJS.ProcessEnv = {}): Promise<Report> {
  const r = await bakery(['bake', 'image', SYSTEM, '--json', '--project', project], { env });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as Report;
}

/** Every file of the image's slot A with its type, mode, owner, size, link target and content hash. */
async function slotContent(report: Report, name: string): Promise<string> {
  const slot = report.partitions.find((p) => p.name === 'rootfsA')!;
  const img = path.join(scratch, `${name}.ext4`);
  const dir = path.join(scratch, name);
  await execa('dd', [`if=${report.image}`, `of=${img}`, 'bs=1M', `skip=${slot.start / MiB}`, `count=${slot.size / MiB}`, 'conv=sparse', 'status=none']);
  await execa('mkdir', ['-p', dir]);
  await execa('debugfs', ['-R', `rdump / ${dir}`, img]);
  const { stdout } = await execa('sh', ['-c', `cd '${dir}' && find . -printf '%y %m %U:%G %s %l %p\\n' | sort -k6 && find . -type f -print0 | sort -z | xargs -0 sha256sum`], { maxBuffer: 256 * MiB });
  return stdout;
}

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'bakery-edit-loop-'));
  // A copy of this repository's product (and its signing pair, so the platform is the same).
  project = path.join(scratch, 'project');
  for (const entry of ['layers', 'recipes', 'systems.toml', 'keys']) await cp(path.join(BAKERY_HOME, entry), path.join(project, entry), { recursive: true });
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe(`${SYSTEM}: a change to the top recipe`, () => {
  let incremental: Report;

  it('redoes only that recipe and those after it, by the build report', async () => {
    const before = await bake();
    await cp(path.join(project, 'build', SYSTEM), path.join(scratch, 'before'), { recursive: true, filter: (f) => !f.endsWith('.img') && !f.includes('/logs') });
    await appendFile(path.join(project, 'recipes/demo-app/files/usr/bin/demo-hello'), '# edited\n');
    incremental = await bake();
    expect(incremental.key).not.toBe(before.key);
    const [base, system] = incremental.layers;
    expect(base!.status).toBe('hit');
    const steps = system!.snapshots.map((s) => `${s.step}:${s.status}`);
    expect(steps).toEqual([
      'recipe bakery-system:hit',
      'recipe bakery-readonly-root:hit',
      'recipe bakery-grub-efi:hit',
      'recipe bakery-rauc:hit',
      'initramfs:hit',
      'recipe hostname:hit',
      'recipe root-access:hit',
      'recipe ssh:hit',
      'recipe demo-app:built',
      'recipe apt-cleanup:built',
      'finish:built',
    ]);
  });

  it('bakery diff names that one file, in the layer that wrote it, and no package change', async () => {
    const r = await bakery(['diff', path.join(scratch, 'before'), path.join(project, 'build', SYSTEM), '--json']);
    expect(r.code, r.stderr).toBe(0);
    const [d] = JSON.parse(r.stdout).systems as SystemDiff[];
    expect(d!.layers.map((l) => [l.layer, l.rebuilt, l.files, l.added.length + l.removed.length + l.upgraded.length + l.downgraded.length])).toEqual([
      ['debian-trixie', false, { added: [], removed: [], changed: [] }, 0],
      [SYSTEM, true, { added: [], removed: [], changed: ['usr/bin/demo-hello'] }, 0],
    ]);
  });

  it('the build\'s file list is the slot\'s every entry (type, mode, owner, link, content), read from the mounted slot', async () => {
    const slot = incremental.partitions.find((p) => p.name === 'rootfsA')!;
    const img = path.join(scratch, 'mounted.ext4');
    const mnt = path.join(scratch, 'mnt');
    await execa('dd', [`if=${incremental.image}`, `of=${img}`, 'bs=1M', `skip=${slot.start / MiB}`, `count=${slot.size / MiB}`, 'conv=sparse', 'status=none']);
    await mkdir(mnt);
    await execa('mount', ['-o', 'loop,ro', img, mnt]);
    let real: string[];
    try {
      const { stdout: entries } = await execa('sh', ['-c', `cd '${mnt}' && find . -mindepth 1 ! -path ./lost+found -printf '%y %m %U:%G %P|%l\\n'`], { maxBuffer: 256 * MiB });
      const { stdout: hashes } = await execa('sh', ['-c', `cd '${mnt}' && find . -type f -print0 | xargs -0 sha256sum`], { maxBuffer: 256 * MiB });
      real = [...entries.split('\n'), ...hashes.split('\n').map((l) => `${l.slice(0, 64)} ${l.slice(68)}`)].sort();
    } finally {
      await execa('umount', [mnt]);
    }
    const listed = (await readFileList(path.join(project, 'build', SYSTEM, 'files.json.gz')))
      .flatMap((f) => [`${f.type} ${f.mode} ${f.uid}:${f.gid} ${f.path}|${f.target ?? ''}`, ...(f.sha256 ? [`${f.sha256} ${f.path}`] : [])]).sort();
    expect(listed.length).toBeGreaterThan(10_000);
    expect(listed).toEqual(real);
  });

  it('makes the same slot content as a build from scratch', async () => {
    const mine = await slotContent(incremental, 'incremental');
    expect(await readFile(path.join(scratch, 'incremental/usr/bin/demo-hello'), 'utf8')).toContain('# edited');
    await rm(path.join(project, 'build'), { recursive: true, force: true });
    const fresh = await bake({ BAKERY_CACHE_DIR: path.join(scratch, 'cache') });
    expect(fresh.layers.flatMap((l) => l.snapshots.map((s) => s.status))).not.toContain('hit');
    // The kernel, initramfs-tools' trigger and the overlay-root hook each asked for an initramfs:
    // it was made once.
    const { stdout: logs } = await execa('sh', ['-c', `cat '${path.join(project, 'build', SYSTEM, 'logs')}'/*.log`], { maxBuffer: 256 * MiB });
    expect(logs.match(/^update-initramfs: Generating/gm)).toHaveLength(1);
    expect(logs).toContain('deferred by bakery');
    expect(await slotContent(fresh, 'fresh')).toBe(mine);
  });
});
