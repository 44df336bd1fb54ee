import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../../errors.js';
import { IMAGE_TOOL } from '../../image/build-image.js';
import { runAllCleanups } from '../../util/cleanup.js';
import type { CommandRun } from '../command.js';
import { projectFor, workerFor } from '../context.js';

type Args = { name: string; dir: string; force: boolean; executor: string };

export async function run({ args, io }: CommandRun<Args>) {
  const project = await projectFor(args, io);
  const dir = path.resolve(project.dir, args.dir);
  const cert = path.join(dir, `${args.name}.cert.pem`);
  const key = path.join(dir, `${args.name}.key.pem`);
  if (!args.force && (existsSync(cert) || existsSync(key))) {
    throw new UserError(`${path.relative(project.dir, key)} or its certificate exists already`, 'pass --force to replace them (bundles signed with the old key stop verifying on devices)');
  }
  await mkdir(dir, { recursive: true });
  // The private half never goes into git.
  const ignore = path.join(project.dir, '.gitignore');
  const rule = `${path.relative(project.dir, dir) || '.'}/*.key.pem`;
  const current = existsSync(ignore) ? await readFile(ignore, 'utf8') : '';
  if (!current.split('\n').includes(rule)) await writeFile(ignore, `${current}${current && !current.endsWith('\n') ? '\n' : ''}${rule}\n`);
  const executor = await workerFor(project, args, io);
  try {
    await executor.exec([IMAGE_TOOL, 'keygen', cert, key, `bakery ${args.name} signing (${path.basename(project.dir)})`], { output: () => undefined });
  } finally {
    await runAllCleanups();
  }
  if (!args.json) io.stdout.write(`certificate: ${cert}\nprivate key: ${key} (keep it secret; git-ignored)\n`);
  return { cert, key };
}
