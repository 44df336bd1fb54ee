#!/usr/bin/env node
// Layer benchmark: a cold trixie minbase root layer through bakery vs the bare bootstrap tool on
// the same package set, and a no-op rebuild. Prints numbers and ratios; asserts nothing.
// Needs: root, mmdebstrap, a Docker engine; BAKERY_MIRROR as in CI.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { time } from './timing.mjs';

const cli = path.resolve(import.meta.dirname, '../dist/cli/main.js');
const scratch = mkdtempSync(path.join(tmpdir(), 'bakery-bench-'));
const cache = path.join(scratch, 'cache');
const env = { ...process.env, BAKERY_CACHE_DIR: cache, CI: '1' };
const mirror = process.env.BAKERY_MIRROR ? [process.env.BAKERY_MIRROR] : [];

const bakery = (...args) => execFileSync('node', [cli, ...args], { env, stdio: ['ignore', 'ignore', 'inherit'] });

try {
  // Warm the worker image so that neither side pays for it.
  bakery('bake', 'layer', 'debian-trixie', '--dry-run');
  const bare = time('bare mmdebstrap --variant=minbase trixie (tarball)', () =>
    execFileSync('mmdebstrap', ['--quiet', '--variant=minbase', 'trixie', path.join(scratch, 'bare.tar'), ...mirror], { stdio: 'inherit' }),
  );
  const cold = time('bakery bake layer debian-trixie (empty cache)', () => bakery('bake', 'layer', 'debian-trixie'));
  const noop = time('bakery bake layer debian-trixie (no-op, cached)', () => bakery('bake', 'layer', 'debian-trixie'));
  rmSync(path.join(cache, 'layers'), { recursive: true, force: true });
  const warmDebs = time('bakery bake layer debian-trixie (layers gone, .debs cached)', () => bakery('bake', 'layer', 'debian-trixie'));
  console.log('');
  console.log(`cold / bare ratio        ${(cold / bare).toFixed(2)}   (goal <= 1.15)`);
  console.log(`.debs cached / bare      ${(warmDebs / bare).toFixed(2)}`);
  console.log(`no-op rebuild            ${noop.toFixed(2)} s (goal <= 1 s)`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
