import { execa } from 'execa';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bakeryVersion } from '../../src/util/paths.js';
import { BAKERY_HOME } from '../../src/util/paths.js';
import { bakery, tempProject } from '../helpers.js';
import { ciCommands } from '../ci-commands.js';

describe('bakery init', () => {
  it('--list describes every template', async () => {
    const r = await bakery(['init', '--list', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).templates.map((t: { name: string }) => t.name)).toEqual(['efi', 'uboot']);
  });

  it.each(['efi', 'uboot'])('template %s: a product repository that validates and plans, with keys kept out of git and bakery pinned', async (template) => {
    const parent = await tempProject({});
    const dir = path.join(parent, 'My Sensor');
    const r = await bakery(['init', dir, '--template', template, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result).toMatchObject({ ok: true, name: 'my-sensor', template, main: 'my-sensor-amd64' });
    expect(result.files).toEqual(expect.arrayContaining(['systems.toml', 'layers/my-sensor.toml', 'recipes/my-sensor-app/recipe.toml', 'tests/smoke.toml', 'run-bakery', '.gitignore', 'README.md', '.github/workflows/ci.yml', '.gitlab-ci.yml']));
    expect(result.files).not.toContain('template.toml');
    // Nothing left to substitute, anywhere.
    for (const file of result.files) expect(await readFile(path.join(dir, file), 'utf8'), file).not.toContain('@@');
    expect(await readFile(path.join(dir, '.gitignore'), 'utf8')).toContain('keys/*.key.pem');
    expect(await readFile(path.join(dir, 'run-bakery'), 'utf8')).toContain(`BAKERY_VERSION="${bakeryVersion()}"`);
    expect((await stat(path.join(dir, 'run-bakery'))).mode & 0o111).not.toBe(0);
    expect((await stat(path.join(dir, 'recipes/my-sensor-app/steps/enable.sh'))).mode & 0o111).not.toBe(0);
    expect(await readFile(path.join(dir, 'systems.toml'), 'utf8')).toContain(`target = "${template === 'efi' ? 'generic-efi' : 'generic-uboot'}"`);
    const check = await bakery(['check', '--json', '--project', dir]);
    expect(check.code, check.stdout).toBe(0);
    expect(JSON.parse(check.stdout)).toMatchObject({ systems: 2, workflows: 1 });
    const plan = await bakery(['bake', 'image', 'my-sensor-amd64', '--dry-run', '--json', '--project', dir], { env: { BAKERY_CACHE_DIR: path.join(parent, 'cache') } });
    expect(plan.code, plan.stdout).toBe(0);
    expect(JSON.parse(plan.stdout).plan.at(-1).recipes.map((x: { name: string }) => x.name)).toContain('my-sensor-app');
  });

  it.each(['efi', 'uboot'])('template %s: its GitHub Actions workflow passes a real validator and runs bakery commands that exist', async (template) => {
    const dir = path.join(await tempProject({}), 'box');
    expect((await bakery(['init', dir, '--template', template])).code).toBe(0);
    const workflow = path.join(dir, '.github/workflows/ci.yml');
    const validated = await execa(path.join(BAKERY_HOME, 'node_modules/.bin/action-validator'), [workflow], { reject: false });
    expect(validated.exitCode, validated.stdout).toBe(0);
    const commands = ciCommands(await readFile(workflow, 'utf8'));
    expect(commands).toEqual([['check'], ['bake', 'image', 'box-amd64'], ['test', 'box-amd64', '--junit', 'results/junit.xml'], ['bake', 'release', '--bundle-version', '${GITHUB_REF_NAME#v}', '--json']]);
    // Each is a command bakery knows, with options it takes (its help parses them).
    for (const command of commands) expect((await bakery([...command.filter((w) => !w.startsWith('${')), '--help'])).code, command.join(' ')).toBe(0);
    expect((await bakery(['check', '--project', dir])).code).toBe(0);
  });

  it.each(['efi', 'uboot'])('template %s: its GitLab CI pipeline passes GitLab\'s schema (gitlab-ci-local) and runs the same bakery commands', async (template) => {
    const dir = path.join(await tempProject({}), 'box');
    expect((await bakery(['init', dir, '--template', template])).code).toBe(0);
    await execa('git', ['init', '-q'], { cwd: dir });
    const lint = (cwd: string) => execa(path.join(BAKERY_HOME, 'node_modules/.bin/gitlab-ci-local'), ['--list', '--force-shell-executor'], { cwd, reject: false, all: true });
    const listed = await lint(dir);
    expect(listed.exitCode, listed.all).toBe(0);
    expect(listed.all).toContain('json schema validated');
    expect(listed.all).toMatch(/check[\s\S]*build-image[\s\S]*vm-test/);
    const gitlab = ciCommands(await readFile(path.join(dir, '.gitlab-ci.yml'), 'utf8'));
    const github = ciCommands(await readFile(path.join(dir, '.github/workflows/ci.yml'), 'utf8'));
    const version = (commands: string[][], from: string) => commands.map((c) => c.map((w) => (w === from ? '<tag version>' : w)));
    expect(version(gitlab, '${CI_COMMIT_TAG#v}')).toEqual(version(github, '${GITHUB_REF_NAME#v}'));
    // The validator does refuse: a job without a script.
    await writeFile(path.join(dir, '.gitlab-ci.yml'), `${await readFile(path.join(dir, '.gitlab-ci.yml'), 'utf8')}\nbroken:\n  stage: test\n`);
    const refused = await lint(dir);
    expect(refused.exitCode).not.toBe(0);
    expect(refused.all).toContain('broken');
  });

  it('refuses a directory that is not empty unless --force, an unknown template, a bad name', async () => {
    const dir = await tempProject({ 'notes.txt': 'mine' });
    let r = await bakery(['init', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('is not empty (notes.txt)');
    expect(await readdir(dir)).toEqual(['notes.txt']);
    r = await bakery(['init', dir, '--force', '--name', 'box']);
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(path.join(dir, 'notes.txt'), 'utf8')).toBe('mine');
    r = await bakery(['init', path.join(dir, 'x'), '--template', 'rpi']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown template "rpi"; templates: efi, uboot');
    r = await bakery(['init', path.join(dir, 'y'), '--name', 'Bad Name']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('a product name is lowercase letters');
    await writeFile(path.join(dir, 'file'), '');
    r = await bakery(['init', path.join(dir, 'file'), '--force']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('is a file, not a directory');
  });
});
