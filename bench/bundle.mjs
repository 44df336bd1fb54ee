#!/usr/bin/env node
// Bundle benchmark: a signed update bundle of demo-efi-amd64 (its image already built), with
// and without compression, against the image it comes from: build time and size.
// Prints numbers and ratios; asserts nothing. Needs root and Docker; BAKERY_MIRROR as in CI.
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { time } from './timing.mjs';

const root = path.resolve(import.meta.dirname, '..');
const cli = path.join(root, 'dist/cli/main.js');
const system = process.argv[2] ?? 'demo-efi-amd64';
const out = path.join(root, 'build', system);
const env = { ...process.env, CI: '1' };
const bakery = (...args) => execFileSync('node', [cli, ...args], { env, stdio: ['ignore', 'ignore', 'inherit'], cwd: root });

const MiB = (bytes) => `${(bytes / 2 ** 20).toFixed(0).padStart(6)} MiB`;
const used = (file) => Number(execFileSync('du', ['-B1', file]).toString().split('\t')[0]);

bakery('bake', 'image', system); // layers, image and keys ready
rmSync(path.join(out, 'build-info.json'), { force: true });
const image = time(`bake image ${system} (layers cached)`, () => bakery('bake', 'image', system));
const plain = time(`bake bundle ${system} --without-compression`, () => bakery('bake', 'bundle', system, '--without-compression'));
const plainSize = statSync(path.join(out, 'system.raucb')).size;
const packed = time(`bake bundle ${system} (compressed)`, () => bakery('bake', 'bundle', system));
const packedSize = statSync(path.join(out, 'system.raucb')).size;
const info = JSON.parse(readFileSync(path.join(out, 'build-info.json'), 'utf8'));
const slot = info.image.partitions.find((p) => p.role === 'rootfs-a');
const img = path.join(out, 'system.img');
console.log('');
console.log(`image: ${MiB(statSync(img).size)} (${MiB(used(img))} allocated); rootfs slot ${MiB(slot.size)}`);
console.log(`bundle without compression ${MiB(plainSize)}  ${(plainSize / slot.size).toFixed(2)} of the slot`);
console.log(`bundle compressed          ${MiB(packedSize)}  ${(packedSize / slot.size).toFixed(2)} of the slot, ${(packedSize / used(img)).toFixed(2)} of the image's data`);
console.log(`bundle time / image time: ${(plain / image).toFixed(2)} uncompressed, ${(packed / image).toFixed(2)} compressed (each includes the no-op image check)`);
