import path from 'node:path';
import { buildLayer, planLayerBuild } from '../../build/layer.js';
import type { Architecture } from '../../config/schema.js';
import type { CommandRun } from '../command.js';
import { sessionFor } from '../context.js';
import { planLines } from '../format.js';

type Args = { layer: string; arch: Architecture; executor: string; 'dry-run': boolean; export?: string };

export async function run({ args, io }: CommandRun<Args>) {
  const session = await sessionFor(args, io);
  if (args['dry-run']) {
    const plan = await planLayerBuild(session, args.layer, args.arch);
    if (!args.json) io.stdout.write(planLines(plan));
    return { plan };
  }
  const result = await buildLayer(session, args.layer, args.arch, { exportTo: args.export && path.resolve(io.cwd, args.export) });
  if (!args.json) {
    for (const l of result.layers) {
      const built = l.snapshots.filter((s) => s.status === 'built').map((s) => s.step);
      io.stdout.write(`${l.layer} (${l.architecture})  ${l.key.slice(0, 12)}  ${built.length ? `built: ${built.join(', ')}` : 'cache hit'}\n`);
    }
  }
  return result;
}
