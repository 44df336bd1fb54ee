/**
 * The OTA proof, driven by `bakery test` workflows (test/e2e/ota-project/tests/ota.toml): v1
 * from the image, v2 installed and confirmed, v3 (failing health check) rolled back by itself
 * from both slots, foreign/tampered/wrong-compatible/plain bundles refused with the slots
 * untouched, and a power cut in the middle of an install.
 */
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bakery } from '../helpers.js';

const FIXTURE = path.join(import.meta.dirname, 'ota-project');
const project = path.join(tmpdir(), `bakery-ota-${process.pid}`);
const refused = path.join(project, 'refused');

/** A small signed bundle made with the host's RAUC: refusals happen before the payload is read. */
async function hostBundle(name: string, o: { cert: string; key: string; compatible: string; format: 'verity' | 'plain' }): Promise<string> {
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

beforeAll(async () => {
  await rm(project, { recursive: true, force: true });
  await cp(FIXTURE, project, { recursive: true });
  const keys = await bakery(['keys', 'generate', '--project', project]);
  expect(keys.code, keys.stderr).toBe(0);
  const cert = path.join(project, 'keys/dev.cert.pem');
  const key = path.join(project, 'keys/dev.key.pem');
  await mkdir(refused, { recursive: true });
  // Another party's pair, made with the host's openssl.
  await execa('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=someone else',
    '-days', '3650', '-addext', 'extendedKeyUsage=codeSigning', '-keyout', path.join(refused, 'other.key.pem'), '-out', path.join(refused, 'other.cert.pem')]);
  await hostBundle('other-key', { cert: path.join(refused, 'other.cert.pem'), key: path.join(refused, 'other.key.pem'), compatible: 'bakery-ota-test', format: 'verity' });
  await hostBundle('other-compatible', { cert, key, compatible: 'some-other-device', format: 'verity' });
  await hostBundle('plain', { cert, key, compatible: 'bakery-ota-test', format: 'plain' });
  const good = await hostBundle('flipped-byte', { cert, key, compatible: 'bakery-ota-test', format: 'verity' });
  const bytes = await readFile(good);
  bytes[bytes.length - 200]! ^= 0xff; // inside the CMS signature
  await writeFile(good, bytes);
});

let keepLogs = true;
afterAll(async () => {
  // On failure the runs' logs (console, steps, JUnit) are kept for a look.
  if (keepLogs) await cp(path.join(project, 'build', 'tests'), `${project}-logs`, { recursive: true }).catch(() => undefined);
  await rm(project, { recursive: true, force: true });
});

describe('OTA updates on the device, through `bakery test`', () => {
  let result: { code: number; stdout: string; stderr: string };
  let runs: { workflow: string; status: string; steps: { name: string; status: string; message?: string }[] }[];

  it('runs the OTA workflow and a failing one side by side (two VMs, own ports), JUnit for both', async () => {
    const junit = path.join(project, 'results', 'junit.xml');
    result = await bakery(['test', 'ota-v1', '--jobs', '2', '--junit', junit, '--json', '--project', project]);
    const out = JSON.parse(result.stdout);
    runs = out.runs;
    const ota = runs.find((r) => r.workflow === 'ota')!;
    const failedStep = ota.steps.find((s) => s.status === 'failed');
    expect(failedStep, `${failedStep?.name}: ${failedStep?.message}\n(logs: ${out.runDir})`).toBeUndefined();
    expect(ota.status).toBe('passed');
    // must-fail expects a version the system does not have: the runner must say so.
    expect(result.code).toBe(1);
    const bad = runs.find((r) => r.workflow === 'must-fail')!;
    expect(bad.status).toBe('failed');
    expect(bad.steps.map((s) => s.status)).toEqual(['passed', 'failed', 'skipped']);
    expect(bad.steps[1]!.message).toContain('does not contain "9.9.9"');
    const xml = await readFile(junit, 'utf8');
    expect(xml).toContain('<testsuite name="ota [ota-v1]"');
    expect(xml).toMatch(/<testsuite name="ota \[ota-v1\]" tests="\d+" failures="0" skipped="0"/);
    expect(xml).toMatch(/<testsuite name="must-fail \[ota-v1\]" tests="3" failures="1" skipped="1"/);
    expect(xml).toContain('<failure message="the output does not contain &quot;9.9.9&quot;"');
    keepLogs = false;
  });

  it('the proof covers each required scenario', () => {
    const names = runs.find((r) => r.workflow === 'ota')!.steps.map((s) => s.name);
    for (const needed of ['install ota-v2', 'install ota-v3', 'install-file refused/other-key.raucb', 'install-file refused/flipped-byte.raucb',
      'install-file refused/other-compatible.raucb', 'install-file refused/plain.raucb', 'power cut half way through writing slot B', 'assert-slots A=bad B=good', 'assert-slots A=good B=bad']) {
      expect(names).toContain(needed);
    }
  });
});
