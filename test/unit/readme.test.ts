/**
 * The README's reference is checked against the product: its configuration examples, put together
 * as a project, pass `bakery check`; the "your own product" walk-through validates; every built-in
 * recipe and parameter, and every environment variable bakery reads, is documented.
 */
import TOML from '@iarna/toml';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BAKERY_HOME, BUILTIN_DIR } from '../../src/util/paths.js';
import { bakery, tempProject } from '../helpers.js';

const README = await readFile(path.join(BAKERY_HOME, 'README.md'), 'utf8');

/** The text of a section: from its heading to the next heading of the same or a higher level (code blocks skipped). */
function section(heading: string): string {
  const lines = README.split('\n');
  const start = lines.indexOf(heading);
  expect(start, `README section "${heading}"`).toBeGreaterThanOrEqual(0);
  const level = /^#+/.exec(heading)![0].length;
  let fenced = false;
  let end = lines.length;
  for (let i = start + 1; i < lines.length; i++) {
    if (lines[i]!.startsWith('```')) fenced = !fenced;
    const m = /^(#+) /.exec(lines[i]!);
    if (!fenced && m && m[1]!.length <= level) {
      end = i;
      break;
    }
  }
  return lines.slice(start + 1, end).join('\n');
}

function blocks(text: string, lang = 'toml'): string[] {
  return [...text.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]!);
}

describe('README', () => {
  it('the configuration examples, as one project, pass `bakery check`', async () => {
    const [layer, rootLayer] = blocks(section('### Layers — `layers/<name>.toml`'));
    const [recipe] = blocks(section('### Recipes — `recipes/<name>/recipe.toml`'));
    const [systems] = blocks(section('### `systems.toml`'));
    const [target] = blocks(section('### Targets — `targets/<name>.toml`'));
    const [workflow] = blocks(section('## Testing systems — `tests/<name>.toml`'));
    // The systems the workflow example names, beside those of the systems.toml example.
    const sensors = ['sensor', 'sensor-v2', 'sensor-uboot', 'sensor-uboot-v2']
      .map((name) => `[systems.${name}]\nlayer = "app"\narchitecture = "amd64"\ntarget = "${name.includes('uboot') ? 'generic-uboot' : 'generic-efi'}"\n`)
      .join('');
    const dir = await tempProject({
      'layers/app.toml': layer!,
      'layers/root.toml': rootLayer!,
      'recipes/web/recipe.toml': recipe!,
      'recipes/web/steps/configure.sh': '#!/bin/sh\n',
      'recipes/web/steps/outside.sh': '#!/bin/sh\n',
      'recipes/web/files/etc/web.conf': '',
      'systems.toml': `${systems!}\n${sensors}`,
      'blobs/u-boot-rockchip.bin': 'u-boot',
      'targets/my-board.toml': target!,
      'tests/update.toml': workflow!,
    });
    const r = await bakery(['check', '--json', '--project', dir]);
    expect(r.stdout + r.stderr).not.toContain('"ok": false');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, workflows: 1 });
  });

  it('the "your own product" walk-through makes a project that passes `bakery check`', async () => {
    const [script] = blocks(section('### Your own product'), 'sh');
    const files: Record<string, string> = {};
    for (const m of script!.matchAll(/cat > (\S+) <<'TOML'\n([\s\S]*?)\nTOML\n/g)) files[m[1]!] = `${m[2]!}\n`;
    expect(Object.keys(files).sort()).toEqual(['layers/sensor.toml', 'recipes/sensor-app/recipe.toml', 'systems.toml']);
    const dir = await tempProject({ ...files, 'recipes/sensor-app/files/etc/motd': 'hello\n' });
    const r = await bakery(['check', '--project', dir]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('documents every built-in recipe, each parameter with its default', async () => {
    const table = section('### Built-in recipes');
    for (const name of await readdir(path.join(BUILTIN_DIR, 'recipes'))) {
      const row = table.split('\n').find((line) => line.startsWith(`| \`${name}\` |`));
      expect(row, `recipe ${name}`).toBeDefined();
      const recipe = TOML.parse(await readFile(path.join(BUILTIN_DIR, 'recipes', name, 'recipe.toml'), 'utf8')) as { parameters?: Record<string, { type?: string; default?: unknown }> };
      for (const [param, spec] of Object.entries(recipe.parameters ?? {})) {
        const documented = `\`${param}\` (${spec.type ?? 'string'}${spec.default !== undefined ? `, default ${JSON.stringify(spec.default)}` : ''}`;
        expect(row, `${name}.${param}`).toContain(documented);
      }
    }
  });

  it('documents every environment variable bakery reads (recipe steps\' own where steps are described)', async () => {
    const documented = section('### Environment') + section('### Recipes — `recipes/<name>/recipe.toml`');
    const read = new Set<string>();
    const walk = async (dir: string): Promise<void> => {
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        const file = path.join(dir, entry.name);
        if (entry.isDirectory()) await walk(file);
        else if (file.endsWith('.ts')) for (const m of (await readFile(file, 'utf8')).matchAll(/env\.(BAKERY_[A-Z_]+)/g)) read.add(m[1]!);
      }
    };
    await walk(path.join(BAKERY_HOME, 'src'));
    expect(read.size).toBeGreaterThan(5);
    for (const name of read) expect(documented, name).toContain(`\`${name}`);
  });
});

