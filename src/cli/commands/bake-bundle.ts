import { buildSystemBundle, planBundleBuild } from '../../build/bundle.js';
import { planLines } from '../format.js';
import type { CommandRun } from '../command.js';
import { sessionFor } from '../context.js';

type Args = { system: string; executor: string; 'bundle-version'?: string; 'dry-run': boolean; 'without-compression': boolean };

export async function run({ args, io }: CommandRun<Args>) {
  if (args['dry-run']) {
    const planned = await planBundleBuild(await sessionFor(args, io), args.system, { version: args['bundle-version'] });
    if (!args.json) io.stdout.write(`bundle ${planned.compatible} ${planned.version}, signed for ${planned.cert}\n${planLines(planned.image.plan)}${planned.image.notes.map((n) => `note: ${n}\n`).join('')}`);
    return planned;
  }
  const result = await buildSystemBundle(await sessionFor(args, io), args.system, { version: args['bundle-version'], compress: !args['without-compression'] });
  const { release } = result;
  if (!args.json) io.stdout.write(`${result.bundle}\n${result.manifest}\n  compatible ${release.compatible}, version ${release.version}, ${release.bundle.size} bytes, sha256 ${release.bundle.sha256}\n  SBOMs: ${result.sboms.spdx}, ${result.sboms.cyclonedx}\n`);
  return release;
}
