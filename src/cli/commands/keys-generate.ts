import { existsSync } from 'node:fs';
import path from 'node:path';
import { generateSigningPair } from '../../bundle/keys.js';
import { UsageError, UserError } from '../../errors.js';
import { runAllCleanups } from '../../util/cleanup.js';
import type { CommandRun } from '../command.js';
import { openWorker } from '../../build/session.js';
import { sessionFor } from '../context.js';

type Args = { name: string; dir: string; force: boolean; executor: string };

export async function run({ args, io }: CommandRun<Args>) {
  // The name becomes two file names: nothing that leaves the directory or needs quoting.
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(args.name) || args.name.includes('..')) {
    throw new UsageError(`--name ${JSON.stringify(args.name)}: expected a file name stem of letters, digits, ".", "_" and "-" (like "release-2026")`);
  }
  const session = await sessionFor(args, io);
  const { project } = session;
  const dir = path.resolve(project.dir, args.dir);
  const cert = path.join(dir, `${args.name}.cert.pem`);
  const key = path.join(dir, `${args.name}.key.pem`);
  if (!args.force && (existsSync(cert) || existsSync(key))) {
    throw new UserError(`${path.relative(project.dir, key)} or its certificate exists already`, 'pass --force to replace them (bundles signed with the old key stop verifying on devices)');
  }
  const executor = await openWorker(session);
  let gitIgnored: boolean | undefined;
  try {
    ({ gitIgnored } = await generateSigningPair(project, executor, dir, args.name));
  } finally {
    await runAllCleanups();
  }
  if (!args.json) {
    io.stdout.write(`certificate: ${cert}\nprivate key: ${key} (keep it secret; ${gitIgnored ? 'git-ignored' : 'outside the project: keep it out of version control yourself'})\n`);
  }
  return { cert, key, gitIgnored };
}
