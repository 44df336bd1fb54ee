import { buildSystemBundle } from '../../build/bundle.js';
import type { CommandRun } from '../command.js';
import { sessionFor } from '../context.js';

type Args = { system: string; executor: string; 'bundle-version'?: string; 'without-compression': boolean };

export async function run({ args, io }: CommandRun<Args>) {
  const result = await buildSystemBundle(await sessionFor(args, io), args.system, { version: args['bundle-version'], compress: !args['without-compression'] });
  const { release } = result;
  if (!args.json) io.stdout.write(`${result.bundle}\n${result.manifest}\n  compatible ${release.compatible}, version ${release.version}, ${release.bundle.size} bytes, sha256 ${release.bundle.sha256}\n`);
  return release;
}
