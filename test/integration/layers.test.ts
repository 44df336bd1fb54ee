/**
 * Real layer builds in the Docker worker: a trixie minbase root layer, a child layer whose recipe
 * installs a package and runs a chroot script with a parameter, the snapshot cache (one per
 * recipe), exports, failures and cleanup.
 */
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { bakery, tempProject } from '../helpers.js';

// A cache of this run's own, so that nothing else on the host (another build, another run) meets it.
const CACHE = path.join(tmpdir(), `bakery-integration-cache-${process.pid}`);
const env = { BAKERY_CACHE_DIR: CACHE };
const CLI = path.resolve(__dirname, '../../dist/cli/main.js');

const files = {
  'layers/base.toml': 'parent = "debian-trixie"\nrecipes = ["hostname", "greet"]\n[parameters.greet]\nmessage = "hello from bakery"\n',
  'layers/other.toml': 'parent = "debian-trixie"\nrecipes = ["hostname"]\n',
  'recipes/greet/recipe.toml': [
    'description = "installs hello and writes a greeting with it"',
    '[parameters.message]',
    'type = "string"',
    'required = true',
    '[[steps]]',
    'packages = ["hello"]',
    '[[steps]]',
    'chroot = "steps/greet.sh"',
    '[[steps]]',
    'files = "files"',
    '[[steps]]',
    'host = "steps/outside.sh"',
  ].join('\n'),
  'recipes/greet/steps/greet.sh': '#!/bin/sh\nset -eu\nhello -g "$RECIPE_PARAM_MESSAGE" > /etc/greeting\necho "$BAKERY_ARCH $BAKERY_LAYER $SOURCE_DATE_EPOCH" > /etc/greet-context\n',
  'recipes/greet/steps/outside.sh': '#!/bin/sh\nset -eu\ntest -d "$BAKERY_ROOTFS/etc"\necho outside > "$BAKERY_ROOTFS/etc/from-host"\n',
  'recipes/greet/files/etc/motd': 'welcome\n',
  'recipes/fail/recipe.toml': 'description = "fails"\n[[steps]]\nchroot = "steps/fail.sh"\n',
  'recipes/fail/steps/fail.sh': '#!/bin/sh\necho "about to fail: disk of doom"\nexit 3\n',
  'layers/broken.toml': 'parent = "debian-trixie"\nrecipes = ["fail"]\n',
};

async function tarFile(tar: string, member: string): Promise<string> {
  return (await execa('tar', ['-xOf', tar, `./${member}`])).stdout;
}

type Snapshot = { step: string; status: string; key: string };
function layers(stdout: string) {
  return JSON.parse(stdout).layers as { layer: string; status: string; key: string; snapshots: Snapshot[] }[];
}

/** The layer's root filesystem, through `bake layer --export` (a cache hit by then). */
async function exported(project: string, layer = 'base', executor = 'auto'): Promise<string> {
  const file = path.join(project, `${layer}-${Date.now()}.tar`);
  const r = await bakery(['bake', 'layer', layer, '--json', '--executor', executor, '--export', file, '--project', project], { env });
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout).exported).toBe(file);
  return file;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** No worker of this test process or of a bakery process that is gone; other live builds are not ours to judge. */
async function noLeftovers() {
  const { stdout } = await execa('docker', ['ps', '-a', '--filter', 'label=dev.bakery.worker', '--format', '{{.ID}} {{.Label "dev.bakery.pid"}}']);
  const ours = stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split(' '))
    .filter(([, pid]) => Number(pid) === process.pid || !alive(Number(pid)));
  expect(ours).toEqual([]);
  expect(await readdir(path.join(CACHE, 'work'))).toEqual([]);
  expect(await readdir(path.join(CACHE, 'locks'))).toEqual([]);
  expect(await readdir(path.join(CACHE, 'tmp'))).toEqual([]);
  expect(await readFile('/proc/mounts', 'utf8')).not.toContain(CACHE);
}

describe('layers in the Docker worker', () => {
  let project: string;
  beforeAll(async () => {
    // A cache of its own, empty at the start: the first build really builds.
    await rm(CACHE, { recursive: true, force: true });
    project = await tempProject(files, { keep: true });
  });
  afterAll(async () => {
    await rm(project, { recursive: true, force: true });
  });

  it('builds a trixie root layer and a child layer with packages, chroot, files and host steps', async () => {
    const r = await bakery(['bake', 'layer', 'base', '--json', '--executor', 'docker', '--project', project], { env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const [root, child] = layers(r.stdout);
    expect(root).toMatchObject({ layer: 'debian-trixie', status: 'built' });
    expect(child).toMatchObject({ layer: 'base', status: 'built' });
    expect(child!.snapshots.map((s) => `${s.step}:${s.status}`)).toEqual(['recipe hostname:built', 'recipe greet:built', 'finish:built']);
    const tar = await exported(project);
    expect((await tarFile(tar, 'etc/debian_version')).trim()).toMatch(/^13\./);
    expect(await tarFile(tar, 'etc/greeting')).toBe('hello from bakery');
    expect(await tarFile(tar, 'etc/greet-context')).toMatch(/^amd64 base \d+$/);
    expect(await tarFile(tar, 'etc/motd')).toBe('welcome');
    expect(await tarFile(tar, 'etc/from-host')).toBe('outside');
    // The build left nothing of its own in the layer.
    const listing = (await execa('tar', ['-tf', tar])).stdout.split('\n');
    expect(listing).toContain('./usr/bin/hello');
    expect(listing).not.toContain('./usr/sbin/policy-rc.d');
    expect(listing).not.toContain('./etc/dpkg/dpkg.cfg.d/bakery-build-unsafe-io');
    expect(listing).not.toContain('./var/log/dpkg.log');
    expect(listing.some((f) => f.startsWith('./var/lib/apt/lists/') && f.endsWith('Packages'))).toBe(false);
    expect(listing.some((f) => f.includes('.bakery-resolv'))).toBe(false);
    expect(listing.some((f) => f.startsWith('./var/cache/apt/archives/') && f.endsWith('.deb'))).toBe(false);
    // Downloaded packages are kept in the shared cache.
    expect((await readdir(path.join(CACHE, 'debs', 'amd64'))).some((f) => f.startsWith('hello_'))).toBe(true);
    await noLeftovers();
  });

  it('a second build is a cache hit for every layer', async () => {
    const r = await bakery(['bake', 'layer', 'base', '--json', '--project', project], { env });
    expect(r.code).toBe(0);
    expect(layers(r.stdout).map((l) => l.status)).toEqual(['hit', 'hit']);
    // Without --json: results on stdout, progress on stderr.
    const plain = await bakery(['bake', 'layer', 'base', '--project', project], { env });
    expect(plain.stdout.trim().split('\n')).toEqual([expect.stringMatching(/^debian-trixie \(amd64\)  \w{12}  cache hit$/), expect.stringMatching(/^base \(amd64\)  \w{12}  cache hit$/)]);
    expect(plain.stderr).toMatch(/layer base \(amd64\) — cached/);
  });

  it('a one-byte recipe change redoes only that recipe and what comes after it', async () => {
    const before = layers((await bakery(['bake', 'layer', 'base', '--json', '--project', project], { env })).stdout);
    await writeFile(path.join(project, 'recipes/greet/files/etc/motd'), 'welcome!\n');
    const r = await bakery(['bake', 'layer', 'base', '--json', '--project', project], { env });
    expect(r.code).toBe(0);
    const after = layers(r.stdout);
    expect(after.map((l) => l.status)).toEqual(['hit', 'built']);
    expect(after[0]!.key).toBe(before[0]!.key);
    expect(after[1]!.key).not.toBe(before[1]!.key);
    // The build's own report: the recipe below the changed one was reused, not run.
    expect(after[1]!.snapshots.map((s) => `${s.step}:${s.status}`)).toEqual(['recipe hostname:hit', 'recipe greet:built', 'finish:built']);
    expect(after[1]!.snapshots[0]!.key).toBe(before[1]!.snapshots[0]!.key);
    expect(await tarFile(await exported(project), 'etc/motd')).toBe('welcome!');
    // A layer that does not use the recipe shares the untouched root layer.
    const other = layers((await bakery(['bake', 'layer', 'other', '--json', '--project', project], { env })).stdout);
    expect(other[0]).toMatchObject({ key: before[0]!.key, status: 'hit' });
    // And the dry run predicts the keys a real build uses.
    const dry = JSON.parse((await bakery(['bake', 'layer', 'base', '--dry-run', '--json', '--project', project], { env })).stdout);
    expect(dry.plan.map((p: { key: string }) => p.key)).toEqual(after.map((l) => l.key));
  });

  it('a failing step names layer › recipe › step, shows the log tail, and leaves nothing behind', async () => {
    const r = await bakery(['bake', 'layer', 'broken', '--project', project], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/broken › fail › step 1 \(chroot steps\/fail\.sh\) failed \(exit code 3\)/);
    expect(r.stderr).toContain('about to fail: disk of doom');
    const logFile = /log: (\S+)/.exec(r.stderr)![1]!;
    expect(existsSync(logFile)).toBe(true);
    expect(logFile).toContain(path.join(project, 'build', 'layers', 'broken-amd64', 'logs'));
    await noLeftovers();
    // With --json: the same exit code, and the failure as a document naming where and the log.
    const json = await bakery(['bake', 'layer', 'broken', '--json', '--project', project], { env });
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, error: { kind: 'step', exitCode: 1, step: { where: ['broken', 'fail', 'step 1 (chroot steps/fail.sh)'], exitCode: 3 } } });
    await noLeftovers();
  });

  it('Ctrl-C during a build removes the worker, the work tree and the lock', async () => {
    const script = path.join(project, 'recipes/greet/steps/greet.sh');
    await writeFile(script, '#!/bin/sh\nset -eu\nhello -g "$RECIPE_PARAM_MESSAGE" > /etc/greeting\necho sleeping\nsleep 600\n');
    onTestFinished(() => writeFile(script, files['recipes/greet/steps/greet.sh']));
    const child = execa('node', [CLI, 'bake', 'layer', 'base', '--debug', '--project', project], { env: { ...process.env, ...env }, reject: false, all: true });
    let seen = '';
    child.all?.on('data', (chunk: Buffer) => (seen += chunk.toString()));
    for (let i = 0; i < 600 && !seen.includes('sleeping'); i++) await new Promise((r) => setTimeout(r, 200));
    expect(seen).toContain('sleeping');
    child.kill('SIGINT');
    const result = await child;
    expect(result.exitCode).toBe(130);
    expect(result.all).toContain('interrupted');
    await noLeftovers();
  });

  it('two builds of the same layer at once: one builds, the other waits and uses it', async () => {
    await writeFile(path.join(project, 'recipes/greet/files/etc/motd'), 'concurrent\n');
    const run = () => execa('node', [CLI, 'bake', 'layer', 'base', '--json', '--project', project], { env: { ...process.env, ...env }, reject: false });
    const [a, b] = await Promise.all([run(), run()]);
    expect(a.exitCode).toBe(0);
    expect(b.exitCode).toBe(0);
    const [la, lb] = [layers(a.stdout)[1]!, layers(b.stdout)[1]!];
    expect([la.status, lb.status].sort()).toEqual(['built', 'hit']);
    expect(la.key).toBe(lb.key);
    expect(await tarFile(await exported(project), 'etc/motd')).toBe('concurrent');
    await noLeftovers();
  });

  it('two different layers at once share the package cache: their apt runs take turns', async () => {
    // Each apt holds the cache's lock for seconds (a pre-dpkg sleep); without turns, the second
    // apt would refuse to start ("Could not get lock /var/cache/apt/archives/lock").
    for (const name of ['slow-a', 'slow-b']) {
      await mkdir(path.join(project, 'recipes', name, 'steps'), { recursive: true });
      await writeFile(path.join(project, 'recipes', name, 'recipe.toml'), `description = "apt that takes its time"\n[[steps]]\nchroot = "steps/install.sh"\n`);
      await writeFile(path.join(project, 'recipes', name, 'steps', 'install.sh'), `#!/bin/sh\nset -eu\n[ -n "$(ls /var/lib/apt/lists | grep -v -e lock -e partial)" ] || apt-get update\napt-get -o 'DPkg::Pre-Invoke::=sleep 8' install -y --no-install-recommends hello\necho ${name} > /etc/${name}\n`, { mode: 0o755 });
      await writeFile(path.join(project, 'layers', `${name}.toml`), `parent = "debian-trixie"\nrecipes = ["${name}"]\n`);
    }
    const run = (layer: string) => execa('node', [CLI, 'bake', 'layer', layer, '--json', '--project', project], { env: { ...process.env, ...env }, reject: false });
    const [a, b] = await Promise.all([run('slow-a'), run('slow-b')]);
    expect(a.stderr + b.stderr).not.toContain('Could not get lock');
    expect(a.stderr, a.stderr).not.toMatch(/failed/);
    expect(b.stderr, b.stderr).not.toMatch(/failed/);
    expect([a.exitCode, b.exitCode]).toEqual([0, 0]);
    expect(layers(a.stdout).at(-1)!.status).toBe('built');
    expect(layers(b.stdout).at(-1)!.status).toBe('built');
    await noLeftovers();
  });

  it('cache ls shows the layers; cache clean --keep-last keeps the most recently used', async () => {
    const ls = JSON.parse((await bakery(['cache', 'ls', '--json', '--project', project], { env })).stdout);
    expect(ls.layers.length).toBeGreaterThanOrEqual(4);
    expect(ls.layers[0]).toEqual(expect.objectContaining({ key: expect.any(String), layer: expect.any(String), size: expect.any(Number), lastUsed: expect.any(String) }));
    expect((await bakery(['cache', 'ls', '--project', project], { env })).stdout).toMatch(/KEY\s+LAYER\s+STEP\s+SIZE\s+LAST USED/);
    const clean = JSON.parse((await bakery(['cache', 'clean', '--keep-last', '2', '--json', '--project', project], { env })).stdout);
    expect(clean.removed.length).toBe(ls.layers.length - 2);
    const kept = JSON.parse((await bakery(['cache', 'ls', '--json', '--project', project], { env })).stdout).layers;
    expect(kept.map((l: { key: string }) => l.key)).toEqual(ls.layers.slice(0, 2).map((l: { key: string }) => l.key));
  });
});

describe('layers on the local executor', () => {
  it('builds the same child layer directly on this host', async () => {
    const project = await tempProject(files);
    const r = await bakery(['bake', 'layer', 'base', '--json', '--executor', 'local', '--project', project], { env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(layers(r.stdout)[1]!.status).toBe('built');
    expect(await tarFile(await exported(project, 'base', 'local'), 'etc/greeting')).toBe('hello from bakery');
    await noLeftovers();
  });
});

afterAll(async () => {
  // The layers hold root-owned files; this cache is this run's alone.
  await rm(CACHE, { recursive: true, force: true });
});
