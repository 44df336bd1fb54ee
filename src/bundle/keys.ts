/**
 * Signing keys for bundles. A development pair is made with `keys generate`; the private key stays
 * on the build host (git-ignored, mode 600) and is never copied into an image, bundle or log.
 */
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Project, System } from '../config/project.js';
import { UserError } from '../errors.js';
import type { Executor } from '../executor/executor.js';
import { IMAGE_TOOL } from '../image/build-image.js';

const DEFAULT_CERT = 'keys/dev.cert.pem';
const CODE_SIGNING = '1.3.6.1.5.5.7.3.3';
const DEFAULT_KEY = 'keys/dev.key.pem';

/**
 * Makes a self-signed pair (EC P-256, valid from 1970, codeSigning) with the worker's openssl and
 * writes it on the host: the key mode 600 and git-ignored, both under temporary names first.
 */
export async function generateSigningPair(project: Project, executor: Executor, dir: string, name: string): Promise<SigningPair> {
  const cert = path.join(dir, `${name}.cert.pem`);
  const key = path.join(dir, `${name}.key.pem`);
  await mkdir(dir, { recursive: true });
  const relDir = path.relative(project.dir, dir) || '.';
  // git cannot ignore what lies outside the project: only a key inside it gets a rule.
  const gitIgnored = !relDir.startsWith('..') && !path.isAbsolute(relDir);
  if (gitIgnored) {
    const ignore = path.join(project.dir, '.gitignore');
    const rule = `${relDir}/*.key.pem`;
    const current = existsSync(ignore) ? await readFile(ignore, 'utf8') : '';
    const lines = current.split('\n').map((l) => l.trim());
    // Already ignored: the rule itself, or the whole directory.
    if (![rule, `/${rule}`, relDir, `${relDir}/`, `/${relDir}/`].some((r) => lines.includes(r))) await writeFile(ignore, `${current}${current && !current.endsWith('\n') ? '\n' : ''}${rule}\n`);
  }
  let output = '';
  try {
    await executor.exec([IMAGE_TOOL, 'keygen', `bakery ${name} signing (${path.basename(project.dir)})`], { output: (c) => (output += c.toString()) });
  } catch (err) {
    throw new UserError(`making the signing pair failed: ${output.trim() || String(err)}`);
  }
  const certPem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/.exec(output)?.[0];
  const keyPem = /-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----\n/.exec(output)?.[0];
  if (!certPem || !keyPem) throw new UserError('making the signing pair failed: openssl printed no certificate and key');
  await writeFile(`${key}.new`, keyPem, { mode: 0o600 });
  await writeFile(`${cert}.new`, certPem, { mode: 0o644 });
  await rename(`${key}.new`, key);
  await rename(`${cert}.new`, cert);
  return { cert, key, gitIgnored };
}

/** The keyring file the device trusts: `bundle.keyring`, else the signing certificate. */
export function keyringPath(project: Project, system: System): string {
  return path.resolve(project.dir, system.bundle.keyring ?? system.bundle.cert);
}

/** The keyring's PEM text, or undefined when the file does not exist. */
export async function readKeyring(project: Project, system: System): Promise<string | undefined> {
  const file = keyringPath(project, system);
  if (!existsSync(file)) return undefined;
  const text = await readFile(file, 'utf8');
  if (!text.includes('-----BEGIN CERTIFICATE-----')) throw new UserError(`system ${system.name}: ${file} holds no PEM certificate (the keyring devices trust)`);
  return text.trim(); // the recipe writes it with one final newline
}

/**
 * The keyring for an image build. A system on the default development paths with no pair yet gets
 * one made (the first `bake image` of a new project just works); configured paths must exist.
 */
export async function keyringForBuild(project: Project, system: System, executor: Executor, env: NodeJS.ProcessEnv, notice: (line: string) => void): Promise<string> {
  const existing = await plannedKeyring(project, system, env);
  if (existing) return existing;
  const pair = await generateSigningPair(project, executor, path.resolve(project.dir, path.dirname(DEFAULT_CERT)), 'dev');
  notice(`made a development signing pair: ${path.relative(project.dir, pair.cert)} (devices trust it), ${path.relative(project.dir, pair.key)} (git-ignored); use your own for production`);
  return (await readKeyring(project, system))!;
}

/**
 * The keyring an image build will use, checked without building: its text, or undefined when the
 * build will make the development pair first; a configured file that is missing fails here.
 */
export async function plannedKeyring(project: Project, system: System, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const existing = await readKeyring(project, system);
  if (existing) return existing;
  const onDefaults = system.bundle.cert === DEFAULT_CERT && system.bundle.key === DEFAULT_KEY && system.bundle.keyring === undefined && !env.BAKERY_SIGNING_KEY;
  if (!onDefaults || existsSync(path.resolve(project.dir, DEFAULT_KEY))) {
    throw new UserError(
      `system ${system.name}: the certificate devices trust, ${keyringPath(project, system)}, does not exist`,
      'images carry it as RAUC keyring; make a pair with `bakery keys generate`, or set [systems.' + system.name + '.bundle] cert/keyring',
    );
  }
  return undefined;
}

export interface SigningPair {
  cert: string;
  key: string;
  /** Whether the project's .gitignore covers the key (only keys inside the project can be). */
  gitIgnored?: boolean;
}

/** The system's certificate and key, checked to exist, to parse and to belong together. */
export async function signingPair(project: Project, system: System, env: NodeJS.ProcessEnv): Promise<SigningPair> {
  const cert = path.resolve(project.dir, system.bundle.cert);
  const key = env.BAKERY_SIGNING_KEY ? path.resolve(env.BAKERY_SIGNING_KEY) : path.resolve(project.dir, system.bundle.key);
  const keyFrom = env.BAKERY_SIGNING_KEY ? 'BAKERY_SIGNING_KEY' : `[systems.${system.name}.bundle] key`;
  const fix = 'make a development pair with `bakery keys generate`, or set the paths in systems.toml; in CI keep the key in a secret, write it to a file and set BAKERY_SIGNING_KEY=<that file>';
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
  // Devices check the signer's purpose (system.conf: check-purpose=codesign).
  const usages = certificate.keyUsage;
  if (usages && usages.length && !usages.includes(CODE_SIGNING)) {
    throw new UserError(`system ${system.name}: the certificate ${cert} is not for code signing (extendedKeyUsage ${usages.join(', ')}); devices would refuse its bundles`, 'add extendedKeyUsage=codeSigning to it, or make a pair with `bakery keys generate`');
  }
  if (certificate.publicKey.export({ type: 'spki', format: 'pem' }).toString() !== publicOfKey) {
    throw new UserError(`system ${system.name}: the signing key ${key} does not belong to the certificate ${cert}`, 'use the key the certificate was made for');
  }
  return { cert, key };
}
