import { diffLines, diffRecords, readBuildRecords } from '../../sbom/diff.js';
import type { CommandRun } from '../command.js';

type Args = { from: string; to: string };

export async function run({ args, io }: CommandRun<Args>) {
  const diffs = diffRecords(await readBuildRecords(args.from), await readBuildRecords(args.to));
  if (!args.json) io.stdout.write(diffLines(diffs));
  return { systems: diffs };
}
