/**
 * Signing keys for bundles. A development pair is made with `keys generate`; the private key stays
 * on the build host (git-ignored, mode 600) and is never copied into an image, bundle or log.
 */
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Project, System } from '../config/project.js';
import { UserError } from '../errors.js';

export interface SigningPair {
  cert: string;
  key: string;
}

/** The system's certificate and key, checked to exist, to parse and to belong together. */
export async function signingPair(project: Project, system: System, env: NodeJS.ProcessEnv): Promise<SigningPair> {
  const cert = path.resolve(project.dir, system.bundle.cert);
  const key = env.BAKERY_SIGNING_KEY ? path.resolve(env.BAKERY_SIGNING_KEY) : path.resolve(project.dir, system.bundle.key);
  const keyFrom = env.BAKERY_SIGNING_KEY ? 'BAKERY_SIGNING_KEY' : `[systems.${system.name}.bundle] key`;
  const fix = 'make a development pair with `bakery keys generate`, or set the paths in systems.toml';
  if (!existsSync(cert)) throw new UserError(`system ${system.name}: signing certificate ${cert} not found ([systems.${system.name}.bundle] cert)`, fix);
  if (!existsSync(key)) throw new UserError(`system ${system.name}: signing key ${key} not found (${keyFrom})`, fix);
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(await readFile(cert));
  } catch {
    throw new UserError(`system ${system.name}: ${cert} is not a PEM certificate`);
  }
  let publicOfKey: string;
  try {
    publicOfKey = createPublicKey(createPrivateKey(await readFile(key))).export({ type: 'spki', format: 'pem' }).toString();
  } catch {
    throw new UserError(`system ${system.name}: ${key} is not a PEM private key (${keyFrom})`);
  }
  if (certificate.publicKey.export({ type: 'spki', format: 'pem' }).toString() !== publicOfKey) {
    throw new UserError(`system ${system.name}: the signing key ${key} does not belong to the certificate ${cert}`, 'use the key the certificate was made for');
  }
  return { cert, key };
}
