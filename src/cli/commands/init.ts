import path from 'node:path';
import { initProject, listTemplates } from '../../templates/init.js';
import { BAKERY_HOME } from '../../util/paths.js';
import type { CommandRun } from '../command.js';
import { bakeryVersion } from '../../util/paths.js';

type Args = { dir?: string; template: string; name?: string; force: boolean; list: boolean };

export async function run({ args, io }: CommandRun<Args>) {
  if (args.list) {
    const templates = (await listTemplates(BAKERY_HOME)).map(({ name, description }) => ({ name, description }));
    if (!args.json) for (const t of templates) io.stdout.write(`${t.name.padEnd(8)}  ${t.description}\n`);
    return { templates };
  }
  const result = await initProject({ dir: path.resolve(io.cwd, args.dir ?? '.'), template: args.template, name: args.name, force: args.force, bakeryHome: BAKERY_HOME, bakeryVersion: bakeryVersion() });
  if (!args.json) {
    const rel = path.relative(io.cwd, result.dir) || '.';
    io.stdout.write(`${result.dir}: product "${result.name}" from template ${result.template} (${result.files.length} files)\n`);
    io.stdout.write(`next: cd ${rel} && ./run-bakery bake image ${result.main}   (see its README.md)\n`);
  }
  return result;
}
