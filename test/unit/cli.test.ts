import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BAKERY_HOME, BUILTIN_DIR } from '../../src/util/paths.js';
import { copyOtaFixture } from '../e2e/ota-setup.js';
import { asIoError } from '../../src/errors.js';
import { bakery, tempProject } from '../helpers.js';

describe('cli', () => {
  it('--help lists the commands on stdout and exits 0', async () => {
    const r = await bakery(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['list', 'doctor', 'bake', 'cache']) expect(r.stdout).toContain(c);
    expect(r.stderr).toBe('');
  });

  it('--version prints the version', async () => {
    const r = await bakery(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('an unknown command is a usage error with help', async () => {
    const r = await bakery(['bakk']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Unknown argument|Did you mean/);
    expect(r.stderr).toContain('Commands:');
  });

  it('a missing positional is a usage error', async () => {
    const r = await bakery(['bake', 'layer']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Not enough non-option arguments');
  });

  it('an unknown option is a usage error', async () => {
    const r = await bakery(['list', '--colour']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Unknown argument');
  });

  it('cache clean needs to be told what to remove', async () => {
    const dir = await tempProject({});
    const r = await bakery(['cache', 'clean', '--project', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--all, --older-than');
  });

  it('cache clean rejects a bad duration', async () => {
    const dir = await tempProject({});
    const r = await bakery(['cache', 'clean', '--older-than', 'soon', '--project', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('expected a duration like 30m');
  });

  it('list --json is machine output and nothing else', async () => {
    const dir = await tempProject({ 'layers/app.toml': 'parent = "debian-trixie"\nrecipes = ["hostname"]\n' });
    const r = await bakery(['list', '--json', '--project', dir]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout);
    expect(out.layers.map((l: { name: string }) => l.name)).toEqual(expect.arrayContaining(['app', 'debian-trixie', 'debian-bookworm']));
    // The repository's demo product is a project of its own, not a built-in.
    expect(out.layers.map((l: { name: string }) => l.name)).not.toContain('demo');
    expect(out.recipes.map((r: { name: string }) => r.name)).not.toContain('demo-app');
    expect(out.layers.find((l: { name: string }) => l.name === 'app').origin).toBe('project');
    // Targets say whether their boot flow works and whether QEMU can boot them.
    const target = (name: string) => out.targets.find((t: { name: string }) => t.name === name);
    expect(target('generic-efi')).toMatchObject({ bootFlow: 'grub-efi', status: 'working', emulated: true });
    expect(target('generic-uboot')).toMatchObject({ bootFlow: 'u-boot', status: 'working', emulated: true });
    expect(target('rk3588')).toMatchObject({ bootFlow: 'u-boot', status: 'working', emulated: false });
    expect(target('jetson-orin')).toMatchObject({ status: 'draft', emulated: false });
  });

  it('a project layer shadows a built-in one of the same name', async () => {
    const dir = await tempProject({ 'layers/debian-trixie.toml': 'description = "ours"\n[bootstrap]\nsuite = "trixie"\n' });
    const r = await bakery(['list', '--json', '--project', dir]);
    const layer = JSON.parse(r.stdout).layers.find((l: { name: string }) => l.name === 'debian-trixie');
    expect(layer).toMatchObject({ origin: 'project', description: 'ours' });
  });

  it('bake layer --dry-run prints the plan without building', async () => {
    const dir = await tempProject({ 'layers/app.toml': 'parent = "debian-trixie"\nrecipes = ["hostname"]\n[parameters.hostname]\nname = "box"\n' });
    const r = await bakery(['bake', 'layer', 'app', '--dry-run', '--json', '--project', dir]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const { plan } = JSON.parse(r.stdout);
    expect(plan.map((p: { layer: string }) => p.layer)).toEqual(['debian-trixie', 'app']);
    expect(plan[1].recipes).toEqual([{ name: 'hostname', parameters: { name: 'box' } }]);
    expect(plan[1].parentKey).toBe(plan[0].key);
    expect(plan.map((p: { cached: boolean }) => typeof p.cached)).toEqual(['boolean', 'boolean']);
  });

  it('bake layer names an unknown layer', async () => {
    const dir = await tempProject({});
    const r = await bakery(['bake', 'layer', 'nope', '--dry-run', '--project', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('unknown layer "nope"');
  });

  it('bake image names an unknown system', async () => {
    const dir = await tempProject({ 'systems.toml': '[systems.one]\nlayer = "debian-trixie"\narchitecture = "amd64"\ntarget = "generic-efi"\n' });
    const r = await bakery(['bake', 'image', 'two', '--project', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('unknown system "two"');
    expect(r.stderr).toContain('systems in');
  });

  it('bake image --dry-run runs the build\'s checks: layout, raw areas, keyring', async () => {
    const system = '[systems.one]\nlayer = "debian-trixie"\narchitecture = "amd64"\ntarget = "generic-efi"\n';
    const cases: [string, Record<string, string>, string][] = [
      ['image too small', { 'systems.toml': `${system}[systems.one.image]\nsize = "100M"\n` }, 'the image size 100 MiB is too small'],
      ['keyring missing', { 'systems.toml': `${system}[systems.one.bundle]\nkeyring = "keys/ring.pem"\n` }, 'keys/ring.pem, does not exist'],
      ['raw area over the first partition', {
        'systems.toml': system.replace('generic-efi', 'board') + '[systems.one.inputs]\nloader = "loader.bin"\n',
        'loader.bin': 'x',
        'targets/board.toml': (await readFile(path.join(BUILTIN_DIR, 'targets/generic-efi.toml'), 'utf8')) + '\n[[raw]]\nname = "loader"\ninput = "loader"\noffset = "32K"\nmax-size = "4M"\n',
      }, 'raw area "loader" (offset 32768, up to 4194304 bytes) overlaps the first partition'],
    ];
    for (const [name, files, message] of cases) {
      const dir = await tempProject(files);
      const r = await bakery(['bake', 'image', 'one', '--dry-run', '--project', dir]);
      expect([name, r.code, r.stderr]).toEqual([name, 1, expect.stringContaining(message)]);
    }
    // A fresh project: no key is printed that the build would not use.
    const dir = await tempProject({ 'systems.toml': system });
    const r = await bakery(['bake', 'image', 'one', '--dry-run', '--json', '--project', dir], { env: { BAKERY_CACHE_DIR: `${dir}/cache` } });
    expect(r.code, r.stderr).toBe(0);
    const planned = JSON.parse(r.stdout);
    // The system's own layer (here the only one: the bootstrap and the target's recipes) waits for the certificate.
    expect(planned.plan.map((l: { key: string | null; cached: boolean }) => [l.key, l.cached])).toEqual([[null, false]]);
    expect(planned.notes.join(' ')).toContain('no signing pair yet');
    expect(planned.layout.partitions.map((p: { role: string; size: number | null }) => [p.role, p.size === null])).toEqual([['boot', false], ['rootfs-a', true], ['rootfs-b', true], ['data', false]]);
  });

  it('bake bundle --dry-run checks the keys and the version, and plans the image with the certificate\'s key', async () => {
    const system = '[systems.one]\nlayer = "debian-trixie"\narchitecture = "amd64"\ntarget = "generic-efi"\nversion = "1.2.0"\n';
    const dir = await tempProject({ 'systems.toml': system });
    const env = { BAKERY_CACHE_DIR: `${dir}/cache` };
    let r = await bakery(['bake', 'bundle', 'one', '--dry-run', '--project', dir], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('signing certificate');
    await mkdir(`${dir}/keys`);
    await execa('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=test', '-days', '30',
      '-addext', 'extendedKeyUsage=codeSigning', '-keyout', `${dir}/keys/dev.key.pem`, '-out', `${dir}/keys/dev.cert.pem`]);
    r = await bakery(['bake', 'bundle', 'one', '--dry-run', '--bundle-version', '1.0 beta', '--project', dir], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--bundle-version: expected a version like "2.1.0"');
    r = await bakery(['bake', 'bundle', 'one', '--dry-run', '--json', '--project', dir], { env });
    expect(r.code, r.stderr).toBe(0);
    const planned = JSON.parse(r.stdout);
    expect(planned).toMatchObject({ ok: true, system: 'one', compatible: 'one', version: '1.2.0' });
    expect(planned.image.plan.at(-1)).toMatchObject({ key: expect.stringMatching(/^[0-9a-f]{32}$/), cached: false });
  });

  it('bake release checks every system\'s key and version before any build, with the CI hint', async () => {
    const systems = '[systems.a]\nlayer = "debian-trixie"\narchitecture = "amd64"\ntarget = "generic-efi"\nversion = "1.0.0"\n'
      + '[systems.b]\nlayer = "debian-trixie"\narchitecture = "amd64"\ntarget = "generic-efi"\nversion = "1.1.0"\n';
    const dir = await tempProject({ 'systems.toml': systems });
    const env = { DOCKER_HOST: 'unix:///nonexistent.sock' };
    let r = await bakery(['bake', 'release', '--project', dir], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('signing certificate');
    expect(r.stderr).toContain('in CI keep the key in a secret, write it to a file and set BAKERY_SIGNING_KEY');
    await mkdir(`${dir}/keys`);
    await execa('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=test', '-days', '30',
      '-addext', 'extendedKeyUsage=codeSigning', '-keyout', `${dir}/keys/dev.key.pem`, '-out', `${dir}/keys/dev.cert.pem`]);
    r = await bakery(['bake', 'release', '--json', '--project', dir], { env });
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout).error.message).toContain('the systems have different versions (a 1.0.0, b 1.1.0)');
    r = await bakery(['bake', 'release', 'a', '--version', '2.0.0', '--project', dir], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('bake release: --version prints bakery\'s version');
  });

  it('bake image refuses an image size the fixed slots cannot fit, before building anything', async () => {
    const dir = await tempProject({
      'systems.toml': '[systems.tiny]\nlayer = "debian-trixie"\narchitecture = "amd64"\ntarget = "generic-efi"\n[systems.tiny.image]\nrootfs-size = "1G"\nsize = "1G"\n',
    });
    const r = await bakery(['bake', 'image', 'tiny', '--project', dir], { env: { DOCKER_HOST: 'unix:///nonexistent.sock' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/system tiny: the image size 1\.0 GiB is too small; the layout of target "generic-efi" needs 2\.2 GiB/);
  });

  it('a system on a draft boot flow, or an architecture its target lacks, is refused', async () => {
    const dir = await tempProject({ 'systems.toml': '[systems.pi]\nlayer = "debian-trixie"\narchitecture = "amd64"\ntarget = "rpi"\n' });
    const r = await bakery(['bake', 'image', 'pi', '--project', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('target "rpi" does not support architecture amd64');
  });

  it('a system of a draft target is refused before any build, in a dry run too', async () => {
    const dir = await tempProject({ 'systems.toml': '[systems.pi]\nlayer = "debian-trixie"\narchitecture = "arm64"\ntarget = "rpi"\n' });
    for (const args of [['bake', 'image', 'pi'], ['bake', 'image', 'pi', '--dry-run']]) {
      const r = await bakery([...args, '--project', dir]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('target "rpi" is a draft: bakery cannot assemble its images yet (boot flow rpi-tryboot, which has no module)');
      expect(r.stderr).toContain('implemented boot flows: grub-efi, u-boot');
    }
  });

  it('cache ls on an empty cache', async () => {
    const dir = await tempProject({});
    const r = await bakery(['cache', 'ls', '--json', '--project', dir], { env: { BAKERY_CACHE_DIR: `${dir}/cache` } });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ ok: true, dir: `${dir}/cache`, layers: [] });
  });

  it('test: no workflows, an unknown workflow, a system no workflow names, a target QEMU cannot run', async () => {
    const systems = '[systems.one]\nlayer = "debian-trixie"\narchitecture = "amd64"\ntarget = "generic-efi"\n'
      + '[systems.pi]\nlayer = "debian-trixie"\narchitecture = "arm64"\ntarget = "rpi"\n';
    const bare = await tempProject({ 'systems.toml': systems });
    let r = await bakery(['test', 'one', '--project', bare]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no test workflows in');
    const dir = await tempProject({ 'systems.toml': systems, 'tests/smoke.toml': 'systems = ["one"]\n[[steps]]\nboot = true\n' });
    r = await bakery(['test', 'one', '--workflow', 'smok', '--project', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown workflow "smok"; workflows: smoke');
    // NAME@SYSTEM narrows a workflow to one of its systems.
    r = await bakery(['test', '--workflow', 'smoke@pi', '--project', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('workflow "smoke" does not run on pi; its systems: one');
    r = await bakery(['test', 'pi', '--project', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no workflow applies to pi');
    const any = await tempProject({ 'systems.toml': systems, 'tests/smoke.toml': '[[steps]]\nboot = true\n' });
    r = await bakery(['test', 'pi', '--project', any]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('target "rpi" cannot run in QEMU');
    r = await bakery(['test', 'nope', '--project', any]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('unknown system "nope"');
  });

  describe('--json: exactly one JSON document on stdout, whatever happens, and the same exit code', () => {
    const parse = (r: { stdout: string }) => JSON.parse(r.stdout) as { ok: boolean; error?: { kind: string; exitCode: number; message: string; hint?: string; problems?: { file: string; line?: number; key?: string; message: string }[] } };
    it('a usage error', async () => {
      const text = await bakery(['list', '--colour']);
      const r = await bakery(['list', '--colour', '--json']);
      expect([r.code, text.code]).toEqual([2, 2]);
      expect(parse(r)).toMatchObject({ ok: false, error: { kind: 'usage', exitCode: 2 } });
      expect(parse(r).error!.message).toContain('Unknown argument');
    });
    it('a configuration error, each problem with file, line and 1-based key', async () => {
      const dir = await tempProject({ 'layers/app.toml': 'parent = "debian-trixie"\nrecipes = ["hostname", "hostnme"]\n' });
      const r = await bakery(['check', '--json', '--project', dir]);
      expect(r.code).toBe(1);
      expect(parse(r)).toMatchObject({ ok: false, error: { kind: 'config', exitCode: 1, problems: [{ file: expect.stringContaining('layers/app.toml'), line: 2, key: 'recipes.2', message: 'unknown recipe "hostnme"' }] } });
    });
    it('another user error, with its hint', async () => {
      const dir = await tempProject({ 'systems.toml': '[systems.one]\nlayer = "debian-trixie"\narchitecture = "amd64"\ntarget = "generic-efi"\n' });
      const r = await bakery(['bake', 'image', 'two', '--json', '--project', dir]);
      expect(r.code).toBe(1);
      expect(parse(r).error).toMatchObject({ kind: 'user', exitCode: 1 });
      expect(parse(r).error!.message).toContain('unknown system "two"');
    });
    it('a file the system refuses to read', async () => {
      const dir = await tempProject({ 'systems.toml/.keep': '' });
      const r = await bakery(['list', '--json', '--project', dir]);
      expect(r.code).toBe(1);
      expect(parse(r).error!.problems).toEqual([expect.objectContaining({ file: expect.stringContaining('systems.toml'), message: 'is a directory, expected a TOML file' })]);
    });
    it('doctor: a failed check exits 1 in both modes', async () => {
      const dir = await tempProject({});
      const env = { DOCKER_HOST: 'unix:///nonexistent.sock' };
      const text = await bakery(['doctor', '--executor', 'docker', '--project', dir], { env });
      const r = await bakery(['doctor', '--executor', 'docker', '--json', '--project', dir], { env });
      expect([r.code, text.code]).toEqual([1, 1]);
      const out = JSON.parse(r.stdout);
      expect(out.ok).toBe(false);
      expect(out.checks.find((c: { name: string }) => c.name === 'container engine')).toMatchObject({ ok: false });
    });
    it('run, interactive, refuses --json with a JSON error', async () => {
      const r = await bakery(['run', 'x', '--json']);
      expect(r.code).toBe(2);
      expect(parse(r).error).toMatchObject({ kind: 'usage', message: expect.stringContaining('run is interactive') });
    });
    it('success carries "ok": true', async () => {
      const dir = await tempProject({});
      const r = await bakery(['list', '--json', '--project', dir]);
      expect(r.code).toBe(0);
      expect(parse(r).ok).toBe(true);
    });
  });

  it('an operating-system refusal is a user error naming the path, never "a bug"', () => {
    const err = Object.assign(new Error('EACCES: permission denied, scandir \'/p/layers\''), { code: 'EACCES', syscall: 'scandir', path: '/p/layers' });
    expect(asIoError(err)?.message).toBe('/p/layers: permission denied (scandir)');
    expect(asIoError(Object.assign(new Error('x'), { code: 'ENOTDIR', syscall: 'open', path: '/p/a/b' }))?.message).toBe('/p/a/b: a part of the path is not a directory (open)');
    expect(asIoError(new TypeError('x is undefined'))).toBeUndefined();
  });

  it('--version is bakery\'s under every command; bake bundle\'s old spelling is refused with the new one', async () => {
    const r = await bakery(['bake', 'image', 'x', '--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const b = await bakery(['bake', 'bundle', 'x', '--version', '2.0.1']);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain('the bundle\'s version is --bundle-version');
  });

  it('the repository\'s own projects pass `check`', async () => {
    const ota = await tempProject({});
    await copyOtaFixture(ota);
    for (const dir of [BAKERY_HOME, ota]) {
      const r = await bakery(['check', '--json', '--project', dir]);
      expect([dir, r.code, r.stderr]).toEqual([dir, 0, '']);
      expect(JSON.parse(r.stdout).workflows).toBeGreaterThan(0);
    }
  });

  it('keys generate refuses a name that is not a plain file name stem', async () => {
    const dir = await tempProject({});
    const r = await bakery(['keys', 'generate', '--name', '../../evil', '--project', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--name "../../evil": expected a file name stem');
  });

  it('--project naming a file, and a recipe script that is a directory, say so', async () => {
    const dir = await tempProject({ 'file.txt': 'x', 'recipes/r/recipe.toml': 'description = "r"\n[[steps]]\nchroot = "steps"\n', 'recipes/r/steps/a.sh': 'true\n' });
    let r = await bakery(['list', '--project', `${dir}/file.txt`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('is a file, not a project directory');
    r = await bakery(['check', '--project', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('`steps.1.chroot`: "steps" is a directory; `chroot` names a script');
  });

  it('a UTF-8 byte-order mark is accepted; a byte that is not UTF-8 is named with its line', async () => {
    const bom = await tempProject({ 'layers/app.toml': '\uFEFFparent = "debian-trixie"\n' });
    expect((await bakery(['list', '--project', bom])).code).toBe(0);
    const latin1 = await tempProject({});
    await writeFile(`${latin1}/systems.toml`, Buffer.concat([Buffer.from('# ok\n[systems.one]\ndescription = "caf'), Buffer.from([0xe9]), Buffer.from('"\n')]));
    const r = await bakery(['list', '--project', latin1]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('line 3: not UTF-8: byte 0xe9');
    expect(r.stderr).toContain('save the file as UTF-8');
  });
});
