import { bootSystem } from '../../build/boot.js';
import { parseSize } from '../../config/size.js';
import { UsageError } from '../../errors.js';
import type { AccelChoice } from '../../vm/accel.js';
import type { CommandRun } from '../command.js';
import { sessionFor } from '../context.js';

type Args = { system: string; executor: string; memory: number; cpus: number; 'ssh-port': number; 'disk-size'?: string; 'restrict-network': boolean; accel: AccelChoice };

export async function run({ args, io }: CommandRun<Args>) {
  // Its stdout is the guest's serial console: there is no result document to give.
  if (args.json) throw new UsageError('run is interactive (stdout is the serial console) and has no --json output', 'for machine-readable results boot the system with `bakery test` (workflows, JUnit, --json)');
  const diskBytes = args['disk-size'] === undefined ? undefined : parseSize(args['disk-size']);
  if (args['disk-size'] !== undefined && diskBytes === undefined) throw new UsageError(`--disk-size: expected a size like "8G", got "${args['disk-size']}"`);
  return bootSystem(await sessionFor(args, io), args.system, {
    memoryMiB: args.memory,
    cpus: args.cpus,
    sshPort: args['ssh-port'],
    diskBytes,
    restrictNetwork: args['restrict-network'],
    accel: args.accel,
  });
}
