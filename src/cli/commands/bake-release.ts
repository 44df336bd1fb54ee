import path from 'node:path';
import { buildRelease } from '../../build/release.js';
import type { CommandRun } from '../command.js';
import { sessionFor } from '../context.js';

type Args = { systems?: string[]; executor: string; 'bundle-version'?: string };

export async function run({ args, io }: CommandRun<Args>) {
  const release = await buildRelease(await sessionFor(args, io), args.systems ?? [], { version: args['bundle-version'] });
  if (!args.json) {
    io.stdout.write(`${release.dir}${release.upToDate ? ' (up to date)' : ''}\n`);
    for (const s of release.systems) for (const f of s.files) io.stdout.write(`  ${f.file.padEnd(40)} ${String(Math.round(f.size / 2 ** 20)).padStart(6)} MiB  ${f.sha256.slice(0, 16)}\n`);
    io.stdout.write(`  ${path.basename(release.sums)}\n`);
  }
  return release;
}
