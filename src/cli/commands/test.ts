import path from 'node:path';
import { runTests } from '../../build/tests.js';
import type { AccelChoice } from '../../vm/accel.js';
import { EXIT_CODE, type CommandRun } from '../command.js';
import { sessionFor } from '../context.js';

type Args = {
  systems: string[];
  workflow?: string[];
  jobs: number;
  junit?: string;
  'without-compression': boolean;
  keep: boolean;
  executor: string;
  accel: AccelChoice;
};

export async function run({ args, io }: CommandRun<Args>) {
  const summary = await runTests(await sessionFor(args, io), {
    systems: args.systems ?? [],
    workflows: args.workflow ?? [],
    jobs: args.jobs,
    junit: args.junit === undefined ? undefined : path.resolve(io.cwd, args.junit),
    compress: !args['without-compression'],
    keep: args.keep,
    accel: args.accel,
  });
  const { runs } = summary;
  if (!args.json) {
    const passed = runs.filter((r) => r.status === 'passed').length;
    io.stdout.write(`${passed} of ${runs.length} workflow runs passed; results: ${path.join(summary.runDir, 'junit.xml')}\n`);
    for (const r of runs) io.stdout.write(`  ${r.status === 'passed' ? 'PASS' : 'FAIL'}  ${r.workflow} › ${r.system}  (${r.steps.filter((s) => s.status === 'passed').length}/${r.steps.length} steps, ${r.seconds.toFixed(0)} s)\n`);
  }
  return { [EXIT_CODE]: summary.passed ? 0 : 1, ...summary };
}
