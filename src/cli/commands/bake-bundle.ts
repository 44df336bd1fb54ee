import path from 'node:path';
import { signingPair } from '../../bundle/keys.js';
import { buildBundle } from '../../bundle/build-bundle.js';
import { findSystem } from '../../engine/system.js';
import { RAUC_SEMVER } from '../../config/schema.js';
import { UsageError } from '../../errors.js';
import { runAllCleanups } from '../../util/cleanup.js';
import type { CommandRun } from '../command.js';
import { projectFor, workerFor } from '../context.js';
import { bakeImage } from './bake-image.js';

type Args = { system: string; executor: string; version?: string; 'without-compression': boolean };

/** Builds the system's image (if needed) and its signed bundle; shared with `test`. */
export async function bakeBundle(args: Args & CommandRun<object>['args'], io: CommandRun<object>['io']) {
  const project = await projectFor(args, io);
  const { system } = findSystem(project, args.system);
  // Keys are checked before any work: a missing or mismatched key fails in a second, not after a build.
  const keys = await signingPair(project, system, io.env);
  const version = (args.version ?? system.version).trim();
  if (!/^[0-9A-Za-z][0-9A-Za-z.+~:_-]*$/.test(version)) {
    throw new UsageError(`--version: expected a version like "2.1.0", got ${JSON.stringify(args.version ?? system.version)}`);
  }
  // Devices that refuse downgrades compare versions as RAUC does: another scheme could never install.
  if (!system.bundle['allow-downgrade'] && !RAUC_SEMVER.test(version)) {
    throw new UsageError(`--version: devices of ${system.name} refuse older bundles and compare versions as semantic versions; expected MAJOR[.MINOR[.PATCH]][-PRERELEASE][+BUILD] like "2.1.0", got ${JSON.stringify(version)}`);
  }
  const image = await bakeImage({ ...args, 'dry-run': false }, io);
  const executor = await workerFor(project, args, io, [path.dirname(keys.key), path.dirname(keys.cert)]);
  try {
    const result = await buildBundle(executor, system, image, keys, { version, compress: !args['without-compression'], sourceDateEpoch: project.sourceDateEpoch });
    return result;
  } finally {
    await runAllCleanups();
  }
}

export async function run({ args, io }: CommandRun<Args>) {
  const result = await bakeBundle(args, io);
  const { release } = result;
  if (!args.json) io.stdout.write(`${result.bundle}\n${result.manifest}\n  compatible ${release.compatible}, version ${release.version}, ${release.bundle.size} bytes, sha256 ${release.bundle.sha256}\n`);
  return release;
}
