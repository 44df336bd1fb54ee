/** Use case: a system's signed update bundle, built from (and after) its image. */
import path from 'node:path';
import { buildBundle, type BundleResult } from '../bundle/build-bundle.js';
import { signingPair } from '../bundle/keys.js';
import { RAUC_SEMVER } from '../config/schema.js';
import { findSystem } from '../engine/system.js';
import { UsageError } from '../errors.js';
import { runAllCleanups } from '../util/cleanup.js';
import { buildImage, planImageBuild, type BuiltImage, type PlannedImage } from './image.js';
import { openWorker, type BuildSession } from './session.js';

export interface BundleOptions {
  /** The bundle's version; the system's `version` when unset. */
  version?: string;
  compress: boolean;
}

/** What `bake bundle --dry-run` prints: the bundle's identity, after the build's checks, and the image plan under it. */
export interface PlannedBundle {
  system: string;
  compatible: string;
  version: string;
  cert: string;
  image: PlannedImage;
}

export async function planBundleBuild(session: BuildSession, systemName: string, options: Pick<BundleOptions, 'version'>): Promise<PlannedBundle> {
  const { system, keys, version } = await checkBundle(session, systemName, options);
  return { system: systemName, compatible: system.bundle.compatible ?? system.name, version, cert: keys.cert, image: await planImageBuild(session, systemName) };
}

/** The bundle, and the image it was made from (built first, or found up to date). */
export async function buildSystemBundle(session: BuildSession, systemName: string, options: BundleOptions): Promise<BundleResult & { image: BuiltImage }> {
  const { project } = session;
  const { system, keys, version } = await checkBundle(session, systemName, options);
  const image = await buildImage(session, systemName);
  const executor = await openWorker(session, [path.dirname(keys.key), path.dirname(keys.cert)]);
  try {
    return { ...(await buildBundle(executor, system, image, keys, { version, compress: options.compress, sourceDateEpoch: project.sourceDateEpoch })), image };
  } finally {
    await runAllCleanups();
  }
}

/** The checks before any work, for the build, its dry run and releases: a missing or mismatched key, or a version devices could not compare, fails in a second. */
export async function checkBundle(session: BuildSession, systemName: string, options: Pick<BundleOptions, 'version'>) {
  const { project } = session;
  const { system } = findSystem(project, systemName);
  const keys = await signingPair(project, system, session.env);
  const version = (options.version ?? system.version).trim();
  const from = options.version !== undefined ? '--bundle-version' : `systems.${system.name}.version`;
  if (!/^[0-9A-Za-z][0-9A-Za-z.+~:_-]*$/.test(version)) {
    throw new UsageError(`${from}: expected a version like "2.1.0", got ${JSON.stringify(options.version ?? system.version)}`);
  }
  // Devices that refuse downgrades compare versions as RAUC does: another scheme could never install.
  if (!system.bundle['allow-downgrade'] && !RAUC_SEMVER.test(version)) {
    throw new UsageError(`${from}: devices of ${system.name} refuse older bundles and compare versions as semantic versions; expected MAJOR[.MINOR[.PATCH]][-PRERELEASE][+BUILD] like "2.1.0", got ${JSON.stringify(version)}`);
  }
  return { system, keys, version };
}
