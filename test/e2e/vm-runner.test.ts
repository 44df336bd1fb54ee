/**
 * The host side of VMs when the host misbehaves: a QEMU killed from outside fails the step at once
 * with QEMU's own words (not after the step's timeout); a KVM that cannot run guests — simulated
 * by a `qemu-system-x86_64` earlier on PATH that aborts like the real one does on some of these
 * hosts ("failed to set MSR 0x10a") — makes `run`, `test` and `doctor` fall back to TCG and say so;
 * a QEMU that dies under `run` is an error with its reason, not exit 0.
 */
import { execa } from 'execa';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowRun } from '../../src/testing/runner.js';
import type { Workflow } from '../../src/testing/workflow.js';
import { BAKERY_HOME } from '../../src/util/paths.js';
import { freePort, Machine } from '../../src/vm/machine.js';
import { bakery } from '../helpers.js';

const SYSTEM = 'demo-efi-amd64';
const CLI = path.join(BAKERY_HOME, 'dist/cli/main.js');
let scratch: string;
let image: string;
/** A directory whose qemu-system-x86_64 fails like a broken KVM host; FAKE_QEMU=always fails every start. */
let fakeBin: string;

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'bakery-vm-runner-'));
  const r = await bakery(['bake', 'image', SYSTEM, '--json', '--project', BAKERY_HOME]);
  expect(r.code, r.stderr).toBe(0);
  image = JSON.parse(r.stdout).image;
  fakeBin = path.join(scratch, 'bin');
  await mkdir(fakeBin);
  const real = (await execa('sh', ['-c', 'command -v qemu-system-x86_64'])).stdout.trim();
  await writeFile(path.join(fakeBin, 'qemu-system-x86_64'), `#!/bin/sh
# QEMU as it behaves on hosts whose /dev/kvm exists but cannot run this CPU model.
if [ "$FAKE_QEMU" != always ]; then
  case " $* " in *" -accel kvm "*) ;; *) exec ${real} "$@" ;; esac
fi
echo "error: failed to set MSR 0x10a to 0x2000000004" >&2
echo "qemu-system-x86_64: ../../target/i386/kvm/kvm.c:2909: kvm_buf_set_msrs: Assertion \\\`ret == cpu->kvm_msr_buf->nmsrs' failed." >&2
kill -ABRT $$
`);
  await chmod(path.join(fakeBin, 'qemu-system-x86_64'), 0o755);
  await writeFile(path.join(fakeBin, 'kvm'), '');
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

// The probe tries KVM only where the device is: a stand-in device makes the broken-KVM case the
// same on hosts with and without /dev/kvm (QEMU itself is the fake that aborts).
const withFakeQemu = (extra: Record<string, string> = {}) => ({ ...process.env, PATH: `${fakeBin}:${process.env.PATH}`, BAKERY_KVM_DEVICE: path.join(fakeBin, 'kvm'), ...extra });

describe('a machine whose QEMU dies', () => {
  it('fails the running step within seconds, with QEMU\'s last words, and skips the rest', async () => {
    const stateDir = path.join(scratch, 'killed');
    const logDir = path.join(scratch, 'killed-logs');
    await mkdir(logDir, { recursive: true });
    const machine = new Machine({ architecture: 'amd64', image, stateDir, accel: { accel: 'tcg', reason: 'test' }, consoleLog: path.join(logDir, 'console.log'), diskBytes: (await stat(image)).size });
    const workflow = { name: 'killed', file: 'killed.toml', memory: 1024, cpus: 2, variables: {}, steps: [{ boot: true }, { run: 'true' }] } as unknown as Workflow;
    const result = new WorkflowRun({ machine, bundles: new Map(), hostPath: (p) => p, logDir }).run(workflow, SYSTEM);
    try {
      // Once the firmware has started, QEMU is stopped from outside, as `kill` would.
      const deadline = Date.now() + 120_000;
      while (!(await readFile(path.join(logDir, 'console.log'), 'utf8').catch(() => '')).includes('BdsDxe') && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 500));
      }
      const pid = (await execa('pgrep', ['-f', `qemu-system-x86_64 .*${stateDir}`])).stdout.trim().split('\n')[0]!;
      const killedAt = Date.now();
      process.kill(Number(pid), 'SIGTERM');
      const r = await result;
      const failedAfter = (Date.now() - killedAt) / 1000;
      expect(r.status).toBe('failed');
      expect(r.steps.map((s) => s.status)).toEqual(['failed', 'skipped']);
      expect(r.steps[0]!.message).toMatch(/the machine died: QEMU was stopped from outside: .*terminating on signal 15/);
      // The boot step's timeout is 15 minutes; a dead QEMU is noticed at once.
      expect(failedAfter).toBeLessThan(10);
      expect(await readFile(path.join(logDir, 'steps.log'), 'utf8')).toContain('terminating on signal 15');
    } finally {
      await machine.dispose();
    }
  });
});

describe('KVM that cannot run guests', () => {
  it('doctor says VMs will use TCG, and why', async () => {
    const r = await execa('node', [CLI, 'doctor', '--json', '--project', BAKERY_HOME], { env: withFakeQemu(), reject: false });
    const checks = JSON.parse(r.stdout).checks as { name: string; ok: boolean; detail: string }[];
    const accel = checks.find((c) => c.name === 'acceleration of amd64 VMs')!;
    expect(accel.ok).toBe(true);
    expect(accel.detail).toMatch(/^TCG .*QEMU with KVM exits at start: .*failed to set MSR 0x10a/);
  });

  it('`test` falls back to TCG, says so, and the workflow passes', async () => {
    const r = await execa('node', [CLI, 'test', SYSTEM, '--workflow', 'demo', '--project', BAKERY_HOME], { env: withFakeQemu(), reject: false });
    expect(r.stderr).toMatch(/amd64 VMs: TCG \(software emulation, slower\): QEMU with KVM exits at start: .*failed to set MSR 0x10a/);
    expect(r.stdout, r.stderr).toContain('1 of 1 workflow runs passed');
    expect(r.exitCode).toBe(0);
  });

  it('`test --accel kvm` refuses with the reason instead of hanging', async () => {
    const r = await execa('node', [CLI, 'test', SYSTEM, '--workflow', 'demo', '--accel', 'kvm', '--project', BAKERY_HOME], { env: withFakeQemu(), reject: false });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/--accel kvm: QEMU with KVM exits at start: .*failed to set MSR 0x10a/);
  });

  it('`run` falls back to TCG, says so, boots, and Ctrl-C ends it cleanly', async () => {
    const child = execa('node', [CLI, 'run', SYSTEM, '--restrict-network', '--ssh-port', String(await freePort()), '--project', BAKERY_HOME], { env: withFakeQemu(), reject: false, stdin: 'pipe' });
    let out = '';
    let err = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    const deadline = Date.now() + 300_000;
    while (!out.includes('bakery: booting slot A') && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 500));
    expect(err).toMatch(/booting demo-efi-amd64 with TCG \(software emulation, slower\): QEMU with KVM exits at start: .*failed to set MSR 0x10a/);
    expect(out).toContain('bakery: booting slot A');
    child.kill('SIGINT');
    const r = await child;
    expect(r.exitCode).toBe(130);
    // No VM left behind.
    const left = await execa('pgrep', ['-f', `qemu-system-x86_64 .*${path.join(BAKERY_HOME, 'build', SYSTEM, 'vm')}`], { reject: false });
    expect(left.stdout).toBe('');
  });

  it('`run` with a QEMU that dies says what happened and exits 1', async () => {
    const r = await execa('node', [CLI, 'run', SYSTEM, '--accel', 'tcg', '--restrict-network', '--ssh-port', String(await freePort()), '--project', BAKERY_HOME], {
      env: withFakeQemu({ FAKE_QEMU: 'always' }), reject: false, stdin: 'pipe',
    });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/the VM ended unexpectedly: QEMU ended on SIGABRT: .*kvm_buf_set_msrs: Assertion/);
  });
});
