import { rm } from 'node:fs/promises';
import path from 'node:path';
import { parseSize } from '../../config/size.js';
import { UsageError } from '../../errors.js';
import { findSystem } from '../../engine/system.js';
import { onCleanup } from '../../util/cleanup.js';
import { prepareVm, startQemu } from '../../vm/qemu.js';
import type { CommandRun } from '../command.js';
import { projectFor } from '../context.js';
import { bakeImage } from './bake-image.js';

type Args = { system: string; executor: string; memory: number; cpus: number; 'ssh-port': number; 'disk-size'?: string; 'restrict-network': boolean };

export async function run({ args, io }: CommandRun<Args>) {
  const diskBytes = args['disk-size'] === undefined ? undefined : parseSize(args['disk-size']);
  if (args['disk-size'] !== undefined && diskBytes === undefined) throw new UsageError(`--disk-size: expected a size like "8G", got "${args['disk-size']}"`);
  const project = await projectFor(args, io);
  const { system, target } = findSystem(project, args.system);
  if (!target.config.emulated) throw new UsageError(`target "${target.name}" cannot be booted in QEMU; \`run\` works for systems of emulated targets (generic-efi)`);
  const built = await bakeImage({ ...args, 'dry-run': false }, io);
  const stateDir = path.join(built.outputs.dir, 'vm', String(process.pid));
  onCleanup(() => rm(stateDir, { recursive: true, force: true }));
  const options = {
    architecture: system.architecture,
    image: built.outputs.image,
    stateDir,
    memoryMiB: args.memory,
    cpus: args.cpus,
    sshPort: args['ssh-port'],
    restrictNetwork: args['restrict-network'],
    diskBytes: diskBytes ?? built.layout.size + 2 ** 30,
  };
  const files = await prepareVm(options);
  io.stderr.write(`booting ${args.system} (serial console below; Ctrl-C or \`poweroff\` ends it; ssh: ssh -p ${args['ssh-port']} root@127.0.0.1)\n`);
  const vm = startQemu(options, files, 'inherit');
  onCleanup(() => vm.stop());
  const result = await vm.child;
  return { system: args.system, exitCode: result.exitCode ?? null };
}
