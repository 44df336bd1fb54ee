#!/usr/bin/env node
// Image benchmark: assembling demo-efi-amd64's image from its cached layers, against a plain
// sparse copy of the same partition images into a disk file; and a no-op `bake image`.
// Prints numbers and ratios; asserts nothing. Needs root and Docker; BAKERY_MIRROR as in CI.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { time } from './timing.mjs';

const root = path.resolve(import.meta.dirname, '..');
const cli = path.join(root, 'dist/cli/main.js');
const system = process.argv[2] ?? 'demo-efi-amd64';
const out = path.join(root, 'build', system);
const env = { ...process.env, CI: '1' };
const scratch = mkdtempSync(path.join(tmpdir(), 'bakery-bench-'));

const sh = (cmd) => execFileSync('sh', ['-c', cmd], { stdio: ['ignore', 'ignore', 'inherit'] });
const bakery = (...args) => execFileSync('node', [cli, ...args], { env, stdio: ['ignore', 'ignore', 'inherit'], cwd: root });

try {
  bakery('bake', 'image', system); // layers and worker ready
  // First without the slot filesystem kept beside the layer (a new layer), then with it.
  const { dir: cacheDir } = JSON.parse(execFileSync('node', [cli, 'cache', 'ls', '--json'], { env, cwd: root }).toString());
  const rootfsKey = JSON.parse(readFileSync(path.join(out, 'build-info.json'), 'utf8')).layers.at(-1).key;
  for (const f of readdirSync(path.join(cacheDir, 'layers')).filter((f) => f.startsWith(`${rootfsKey}.slot-`))) rmSync(path.join(cacheDir, 'layers', f));
  rmSync(path.join(out, 'build-info.json'), { force: true });
  const fresh = time(`bake image ${system} (layers cached, slot filesystem made)`, () => bakery('bake', 'image', system));
  rmSync(path.join(out, 'build-info.json'), { force: true });
  const assemble = time(`bake image ${system} (layers and slot filesystem cached)`, () => bakery('bake', 'image', system));
  const noop = time(`bake image ${system} (no-op)`, () => bakery('bake', 'image', system));

  // The baseline: the same partition images, already made, copied sparse into a disk file.
  const info = JSON.parse(readFileSync(path.join(out, 'build-info.json'), 'utf8'));
  const img = path.join(out, 'system.img');
  const parts = info.image.partitions.filter((p) => p.role !== 'rootfs-b');
  for (const p of parts) sh(`dd if=${img} of=${scratch}/${p.name}.img bs=1M skip=${p.start / 1048576} count=${p.size / 1048576} conv=sparse status=none`);
  sh(`sfdisk -d ${img} > ${scratch}/table`);
  const copy = time('plain sparse copy of the same partition images', () => {
    sh(`truncate -s ${info.image.size} ${scratch}/disk.img && sfdisk -q ${scratch}/disk.img < ${scratch}/table`);
    for (const p of parts) sh(`dd if=${scratch}/${p.name}.img of=${scratch}/disk.img bs=1M seek=${p.start / 1048576} conv=sparse,notrunc status=none`);
  });
  console.log('');
  console.log(`image stage / plain copy         ${(assemble / copy).toFixed(2)}  (slot filesystem cached; boot and data filesystems, GPT, bmap)`);
  console.log(`image stage / plain copy         ${(fresh / copy).toFixed(2)}  (first image of a layer: the slot filesystem is made from the layer)`);
  console.log(`no-op bake image                 ${noop.toFixed(2)} s (goal <= 1 s)`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
