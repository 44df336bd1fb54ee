import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
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
  let output = '';
  try {
    await executor.exec([IMAGE_TOOL, 'keygen', `bakery ${args.name} signing (${path.basename(project.dir)})`], { output: (c) => (output += c.toString()) });
  } catch (err) {
    throw new UserError(`making the signing pair failed: ${output.trim() || String(err)}`);
  } finally {
    await runAllCleanups();
  }
  const certPem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/.exec(output)?.[0];
  const keyPem = /-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----\n/.exec(output)?.[0];
  if (!certPem || !keyPem) throw new UserError('making the signing pair failed: openssl printed no certificate and key');
  // Temporary names, then rename: never a half-written key under the final name.
  await writeFile(`${key}.new`, keyPem, { mode: 0o600 });
  await writeFile(`${cert}.new`, certPem, { mode: 0o644 });
  await rename(`${key}.new`, key);
  await rename(`${cert}.new`, cert);
  if (!args.json) io.stdout.write(`certificate: ${cert}\nprivate key: ${key} (keep it secret; git-ignored)\n`);
  return { cert, key };
}
