import { buildImage, planImageBuild } from '../../build/image.js';
import type { CommandRun } from '../command.js';
import { sessionFor } from '../context.js';
import { layoutLines, planLines } from '../format.js';

type Args = { system: string; executor: string; 'dry-run': boolean };

export async function run({ args, io }: CommandRun<Args>) {
  const session = await sessionFor(args, io);
  if (args['dry-run']) {
    const planned = await planImageBuild(session, args.system);
    if (!args.json) io.stdout.write(`${planLines(planned.plan)}${layoutLines(planned.layout)}${planned.notes.map((n) => `note: ${n}\n`).join('')}`);
    return planned;
  }
  const built = await buildImage(session, args.system);
  const out = {
    system: args.system,
    key: built.key,
    image: built.outputs.image,
    bmap: built.outputs.bmap,
    compressed: built.outputs.compressed,
    buildInfo: built.outputs.buildInfo,
    sboms: { spdx: built.outputs.spdx, cyclonedx: built.outputs.cyclonedx },
    packages: built.info?.packages.length,
    size: built.layout.size,
    layers: built.layers,
    /** Seconds of the image stage (partition images, table, bmap); the layers' are in their snapshots. */
    imageSeconds: built.imageSeconds,
    partitions: built.layout.partitions.map((p) => ({ number: p.number, name: p.name, role: p.role, start: p.start, size: p.size })),
  };
  if (!args.json) {
    io.stdout.write(`${built.outputs.image}\n`);
    io.stdout.write(`  SBOMs (${out.packages} packages): ${built.outputs.spdx}, ${built.outputs.cyclonedx}\n`);
    for (const p of out.partitions) io.stdout.write(`  ${String(p.number).padStart(2)}  ${p.name.padEnd(10)} ${p.role.padEnd(9)} ${String(Math.round(p.size / 2 ** 20)).padStart(6)} MiB\n`);
  }
  return out;
}
