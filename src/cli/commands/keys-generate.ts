import { existsSync } from 'node:fs';
import path from 'node:path';
import { generateSigningPair } from '../../bundle/keys.js';
import { UserError } from '../../errors.js';
import { runAllCleanups } from '../../util/cleanup.js';
import type { CommandRun } from '../command.js';
import { openWorker } from '../../build/session.js';
import { sessionFor } from '../context.js';

type Args = { name: string; dir: string; force: boolean; executor: string };

export async function run({ args, io }: CommandRun<Args>) {
  const session = await sessionFor(args, io);
  const { project } = session;
  const dir = path.resolve(project.dir, args.dir);
  const cert = path.join(dir, `${args.name}.cert.pem`);
  const key = path.join(dir, `${args.name}.key.pem`);
  if (!args.force && (existsSync(cert) || existsSync(key))) {
    throw new UserError(`${path.relative(project.dir, key)} or its certificate exists already`, 'pass --force to replace them (bundles signed with the old key stop verifying on devices)');
  }
  const executor = await openWorker(session);
  try {
    await generateSigningPair(project, executor, dir, args.name);
  } finally {
    await runAllCleanups();
  }
  if (!args.json) io.stdout.write(`certificate: ${cert}\nprivate key: ${key} (keep it secret; git-ignored)\n`);
  return { cert, key };
}
