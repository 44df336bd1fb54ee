/**
 * The OTA proof's project, made ready in a temporary directory: the fixture (test/e2e/ota-project),
 * a development signing pair, a keyring that also trusts an expired signer, bundles the device
 * must refuse (made with the host's RAUC), and v1's content released again as 2.0.1.
 */
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { BAKERY_HOME } from '../../src/util/paths.js';
import { bakery } from '../helpers.js';

const FIXTURE = path.join(import.meta.dirname, 'ota-project');

/**
 * What CI runs: the OTA proof (install, rollback, refusals, power cut while writing) and the two
 * recovery scenarios with no step touching the VM after the fault (kernel panic, boot deadline).
 * The full suite (test/full/ota-matrix.test.ts) runs the rest: the power cut during the checks,
 * downgrade and certificate rules, the hung-PID-1 watchdog case, the A-to-B failing-check rollback
 * and every recovery scenario in the other slot direction. (CI's time limit draws the line: each
 * workflow costs minutes of emulated boots.)
 */
export const CI_SCENARIOS = ['ota', 'recovery-panic', 'recovery-emergency'];

/** Scenarios that are not recovery workflows and run in the full suite only (on EFI). */
export const FULL_ONLY_SCENARIOS = ['downgrade', 'certificates'];


/** A small signed bundle made with the host's RAUC: refusals happen before the payload is read. */
async function hostBundle(refused: string, name: string, o: { cert: string; key: string; compatible: string; format: 'verity' | 'plain' }): Promise<string> {
  const dir = path.join(refused, `${name}.d`);
  await mkdir(dir, { recursive: true });
  // Random bytes: RAUC wants a payload bigger than a squashfs block, and never gets to read it.
  await writeFile(path.join(dir, 'rootfs.ext4'), randomBytes(2 ** 20));
  await writeFile(
    path.join(dir, 'manifest.raucm'),
    `[update]\ncompatible=${o.compatible}\nversion=9.9.9\n\n${o.format === 'verity' ? '[bundle]\nformat=verity\n\n' : ''}[image.rootfs]\nfilename=rootfs.ext4\n`,
  );
  const out = path.join(refused, `${name}.raucb`);
  await execa('rauc', ['bundle', `--cert=${o.cert}`, `--key=${o.key}`, dir, out]);
  await rm(dir, { recursive: true, force: true });
  return out;
}

/**
 * A signing pair whose certificate expired in 2021 (self-signed, codeSigning): the device trusts
 * it, so a refusal of its bundles is for its expiry alone. `openssl ca` is the tool of Debian 12's
 * OpenSSL 3.0 that sets both dates.
 */
async function expiredPair(dir: string): Promise<{ cert: string; key: string }> {
  const ca = path.join(dir, 'expired-ca');
  await mkdir(path.join(ca, 'new'), { recursive: true });
  await writeFile(path.join(ca, 'index.txt'), '');
  await writeFile(path.join(ca, 'serial'), '01\n');
  await writeFile(path.join(ca, 'ca.cnf'), [
    '[ca]', 'default_ca = test', '[test]', `dir = ${ca}`, 'database = $dir/index.txt', 'new_certs_dir = $dir/new', 'serial = $dir/serial',
    'default_md = sha256', 'policy = any_name', 'x509_extensions = signer', '[any_name]', 'commonName = supplied',
    '[signer]', 'extendedKeyUsage = codeSigning, emailProtection', '',
  ].join('\n'));
  const key = path.join(dir, 'expired.key.pem');
  const cert = path.join(dir, 'expired.cert.pem');
  await execa('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=expired signer', '-keyout', key, '-out', path.join(ca, 'signer.csr')]);
  await execa('openssl', ['ca', '-batch', '-config', path.join(ca, 'ca.cnf'), '-selfsign', '-keyfile', key, '-in', path.join(ca, 'signer.csr'), '-out', cert,
    '-startdate', '20200101000000Z', '-enddate', '20210101000000Z', '-notext']);
  return { cert, key };
}

/**
 * The fixture at `project`, with the repository's demo product it builds on (layer `demo`, recipe
 * `demo-app`: a project of the repository root, not built-ins).
 */
export async function copyOtaFixture(project: string): Promise<void> {
  await rm(project, { recursive: true, force: true });
  await cp(FIXTURE, project, { recursive: true });
  await cp(path.join(BAKERY_HOME, 'layers/demo.toml'), path.join(project, 'layers/demo.toml'));
  await cp(path.join(BAKERY_HOME, 'recipes/demo-app'), path.join(project, 'recipes/demo-app'), { recursive: true });
}

/** Makes the project ready at `project` (replacing what is there). */
export async function prepareOtaProject(project: string): Promise<void> {
  const refused = path.join(project, 'refused');
  await copyOtaFixture(project);
  const keys = await bakery(['keys', 'generate', '--project', project]);
  expect(keys.code, keys.stderr).toBe(0);
  const cert = path.join(project, 'keys/dev.cert.pem');
  const key = path.join(project, 'keys/dev.key.pem');
  await mkdir(refused, { recursive: true });
  // Every release trusts the development certificate and the expired one.
  const expired = await expiredPair(refused);
  await writeFile(path.join(project, 'keys/keyring.pem'), `${(await readFile(cert, 'utf8')).trim()}\n${(await readFile(expired.cert, 'utf8')).trim()}\n`);
  await hostBundle(refused, 'expired', { ...expired, compatible: 'bakery-ota-test', format: 'verity' });
  // Another party's pair, made with the host's openssl.
  await execa('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=someone else',
    '-days', '3650', '-addext', 'extendedKeyUsage=codeSigning', '-keyout', path.join(refused, 'other.key.pem'), '-out', path.join(refused, 'other.cert.pem')]);
  await hostBundle(refused, 'other-key', { cert: path.join(refused, 'other.cert.pem'), key: path.join(refused, 'other.key.pem'), compatible: 'bakery-ota-test', format: 'verity' });
  await hostBundle(refused, 'other-compatible', { cert, key, compatible: 'some-other-device', format: 'verity' });
  await hostBundle(refused, 'plain', { cert, key, compatible: 'bakery-ota-test', format: 'plain' });
  const good = await hostBundle(refused, 'flipped-byte', { cert, key, compatible: 'bakery-ota-test', format: 'verity' });
  const bytes = await readFile(good);
  bytes[bytes.length - 200]! ^= 0xff; // inside the CMS signature
  await writeFile(good, bytes);
  // The deliberate way back: v1's content released again under a newer version (`install =
  // "ota-v1"` later makes the plain 1.0.0 one).
  const rerelease = await bakery(['bake', 'bundle', 'ota-v1', '--bundle-version', '2.0.1', '--json', '--project', project]);
  expect(rerelease.code, rerelease.stderr).toBe(0);
  await mkdir(path.join(project, 'bundles'), { recursive: true });
  await cp(path.join(project, 'build/ota-v1/system.raucb'), path.join(project, 'bundles/ota-v1-as-2.0.1.raucb'));
}

/** A fresh directory name for the project of one test file. */
export function otaProjectDir(): string {
  return path.join(tmpdir(), `bakery-ota-${process.pid}`);
}
