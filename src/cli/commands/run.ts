import { rm } from 'node:fs/promises';
import path from 'node:path';
import { parseSize } from '../../config/size.js';
import { UsageError, UserError } from '../../errors.js';
import { findSystem } from '../../engine/system.js';
import { onCleanup } from '../../util/cleanup.js';
import { chooseAccel, type AccelChoice } from '../../vm/accel.js';
import { prepareVm, startQemu, type VmOptions } from '../../vm/qemu.js';
import type { CommandRun } from '../command.js';
import { projectFor } from '../context.js';
import { bakeImage } from './bake-image.js';

type Args = { system: string; executor: string; memory: number; cpus: number; 'ssh-port': number; 'disk-size'?: string; 'restrict-network': boolean; accel: AccelChoice };

export async function run({ args, io }: CommandRun<Args>) {
  const diskBytes = args['disk-size'] === undefined ? undefined : parseSize(args['disk-size']);
  if (args['disk-size'] !== undefined && diskBytes === undefined) throw new UsageError(`--disk-size: expected a size like "8G", got "${args['disk-size']}"`);
  const project = await projectFor(args, io);
  const { system, target } = findSystem(project, args.system);
  if (!target.config.emulated) throw new UsageError(`target "${target.name}" cannot be booted in QEMU; \`run\` works for systems of emulated targets (generic-efi)`);
  const built = await bakeImage({ ...args, 'dry-run': false }, io);
  const accel = await chooseAccel(system.architecture, args.accel);
  const stateDir = path.join(built.outputs.dir, 'vm', String(process.pid));
  onCleanup(() => rm(stateDir, { recursive: true, force: true }));
  const options: VmOptions = {
    architecture: system.architecture,
    image: built.outputs.image,
    stateDir,
    memoryMiB: args.memory,
    cpus: args.cpus,
    accel: accel.accel,
    sshPort: args['ssh-port'],
    restrictNetwork: args['restrict-network'],
    diskBytes: diskBytes ?? built.layout.size + 2 ** 30,
  };
  const files = await prepareVm(options);
  io.stderr.write(`booting ${args.system} with ${accel.reason}\n(serial console below; Ctrl-C or \`poweroff\` ends it; ssh: ssh -p ${args['ssh-port']} root@127.0.0.1)\n`);
  // A guest reset ends QEMU (-no-reboot); the machine is started again on the same disk.
  let resets = 0;
  for (;;) {
    const vm = startQemu(options, files, { stdin: 'inherit', echo: true });
    let stoppedByUs = false;
    const stop = onCleanup(() => {
      stoppedByUs = true; // Ctrl-C or another interruption: bakery's own handler reports it
      return vm.stop();
    });
    const exit = await vm.exited;
    if (stoppedByUs) return { system: args.system, accel: accel.accel, resets, exit: 'interrupted' };
    await stop();
    if (exit.kind === 'reset') {
      resets++;
      io.stderr.write(`\n[bakery] the guest reset; starting it again (same disk)\n`);
      continue;
    }
    if (exit.kind === 'poweroff') return { system: args.system, accel: accel.accel, resets, exit: 'poweroff' };
    // Ctrl-C reaches QEMU too; the CLI's own handler reports the interruption.
    if (exit.signal === 'SIGINT' || exit.signal === 'signal 2') return { system: args.system, accel: accel.accel, resets, exit: 'interrupted' };
    throw new UserError(`the VM ended unexpectedly: ${exit.reason}`, accel.accel === 'kvm' ? 'try --accel tcg' : undefined);
  }
}
