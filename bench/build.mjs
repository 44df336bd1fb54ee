#!/usr/bin/env node
// Build benchmark: the demo system, per architecture — a cold build (empty cache), a change to the
// top recipe (demo-app), a no-op — each broken down by the build's own report (every snapshot:
// bootstrap, each recipe, finish; the image stage; the rest is worker start and planning), against
// the floor: bare mmdebstrap with the same package set, to a tarball. Prints numbers and ratios;
// asserts nothing. Needs root, mmdebstrap, Docker (and binfmt for arm64); BAKERY_MIRROR as in CI.
//   node bench/build.mjs [amd64] [arm64]      (default: both)
import { execFileSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const cli = path.join(root, 'dist/cli/main.js');
const arches = process.argv.slice(2).length ? process.argv.slice(2) : ['amd64', 'arm64'];
const mirror = process.env.BAKERY_MIRROR ? [process.env.BAKERY_MIRROR] : [];
const scratch = mkdtempSync(path.join(tmpdir(), 'bakery-bench-build-'));

// What the demo system installs on top of minbase (bakery-system, ssh, bakery-rauc, bakery-grub-efi).
const packages = (arch) =>
  [
    `linux-image-${arch}`, 'systemd', 'systemd-sysv', 'udev', 'dbus', 'initramfs-tools', 'kmod', 'e2fsprogs', 'fdisk', 'cloud-guest-utils',
    'util-linux', 'iproute2', 'procps', 'less', 'ca-certificates', 'openssh-server', 'rauc', 'rauc-service', `grub-efi-${arch}-bin`,
  ].join(',');

const seconds = (fn) => {
  const start = process.hrtime.bigint();
  const out = fn();
  return { out, s: Number(process.hrtime.bigint() - start) / 1e9 };
};
const line = (label, s, extra = '') => console.log(`  ${label.padEnd(44)} ${s.toFixed(1).padStart(7)} s${extra ? `  ${extra}` : ''}`);

function bake(project, system, cache) {
  const env = { ...process.env, CI: '1', BAKERY_CACHE_DIR: cache };
  const { out, s } = seconds(() => execFileSync('node', [cli, 'bake', 'image', system, '--json', '--project', project], { env, stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 }));
  return { report: JSON.parse(out.toString()), s };
}

function breakdown(label, { report, s }) {
  console.log(`${label}: ${s.toFixed(1)} s`);
  let accounted = report.imageSeconds;
  for (const layer of report.layers) {
    for (const snap of layer.snapshots.filter((x) => x.status === 'built')) {
      line(`${layer.layer} › ${snap.step}`, snap.seconds);
      accounted += snap.seconds;
    }
    const reused = layer.snapshots.filter((x) => x.status === 'hit').length;
    if (reused) console.log(`  ${`${layer.layer}: ${reused} snapshot(s) reused`.padEnd(44)}`);
  }
  line('image stage', report.imageSeconds);
  line('worker start, planning, cache (the rest)', Math.max(0, s - accounted));
  return s;
}

const results = {};
try {
  // The project, copied: the top-recipe change must not touch the repository.
  const project = path.join(scratch, 'project');
  for (const entry of ['layers', 'recipes', 'targets', 'systems.toml', 'keys']) {
    if (existsSync(path.join(root, entry))) cpSync(path.join(root, entry), path.join(project, entry), { recursive: true });
  }
  // The worker image is made once per machine: outside the timings (a throwaway build makes it).
  execFileSync('node', [cli, 'bake', 'layer', 'debian-trixie', '--project', project], { env: { ...process.env, CI: '1', BAKERY_CACHE_DIR: path.join(scratch, 'warm-up') }, stdio: 'ignore' });
  rmSync(path.join(scratch, 'warm-up'), { recursive: true, force: true });
  for (const arch of arches) {
    const system = `demo-efi-${arch}`;
    console.log(`\n== ${system}`);
    const floor = seconds(() =>
      execFileSync('mmdebstrap', ['--quiet', '--variant=minbase', `--architectures=${arch}`, `--include=${packages(arch)}`, 'trixie', path.join(scratch, `floor-${arch}.tar`), ...mirror], { stdio: 'inherit' }),
    ).s;
    line('floor: bare mmdebstrap, same packages, tarball', floor);
    const cache = path.join(scratch, `cache-${arch}`);
    const cold = breakdown('cold (empty cache)', bake(project, system, cache));
    appendFileSync(path.join(project, 'recipes/demo-app/files/usr/bin/demo-hello'), `# bench ${arch}\n`);
    const change = breakdown('one file of demo-app (the top recipe) changed', bake(project, system, cache));
    const noop = bake(project, system, cache).s;
    console.log(`no-op: ${noop.toFixed(2)} s`);
    results[arch] = { floor, cold, change, noop };
    rmSync(cache, { recursive: true, force: true });
  }
  console.log('\n== ratios');
  for (const [arch, r] of Object.entries(results)) {
    console.log(`${arch}: cold / floor ${(r.cold / r.floor).toFixed(2)} (goal <= 1.15)   top-recipe change ${r.change.toFixed(1)} s (goal <= 12 s on amd64)   no-op ${r.noop.toFixed(2)} s (goal <= 1 s)`);
  }
  if (results.amd64 && results.arm64) {
    console.log(`arm64 / amd64: cold ${(results.arm64.cold / results.amd64.cold).toFixed(2)} (goal <= 3)   top-recipe change ${(results.arm64.change / results.amd64.change).toFixed(2)} (goal <= 2)`);
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
