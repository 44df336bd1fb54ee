/**
 * Use case: build a system's image and boot it in QEMU on the user's terminal (`run`). A guest
 * reset ends QEMU (-no-reboot); the machine is started again on the same disk.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { findSystem } from '../engine/system.js';
import { UsageError, UserError } from '../errors.js';
import { onCleanup } from '../util/cleanup.js';
import { chooseAccel, type AccelChoice } from '../vm/accel.js';
import { prepareVm, startQemu, type VmOptions } from '../vm/qemu.js';
import { bootFlowOf, canEmulate, emulatedTargets } from '../targets/registry.js';
import { buildImage } from './image.js';
import type { BuildSession } from './session.js';

export interface BootOptions {
  memoryMiB: number;
  cpus: number;
  sshPort: number;
  /** The disk the guest sees; the image's size plus 1 GiB when unset. */
  diskBytes?: number;
  restrictNetwork: boolean;
  accel: AccelChoice;
}

export interface BootResult {
  system: string;
  accel: 'kvm' | 'tcg';
  resets: number;
  exit: 'poweroff' | 'interrupted';
}

export async function bootSystem(session: BuildSession, systemName: string, options: BootOptions): Promise<BootResult> {
  const { system, target } = findSystem(session.project, systemName);
  if (!canEmulate(target)) throw new UsageError(`target "${target.name}" cannot be booted in QEMU; \`run\` works for systems of targets QEMU can emulate (${emulatedTargets(session.project).join(', ')})`);
  const built = await buildImage(session, systemName);
  const accel = await chooseAccel(system.architecture, options.accel);
  const stateDir = path.join(built.outputs.dir, 'vm', String(process.pid));
  onCleanup(() => rm(stateDir, { recursive: true, force: true }));
  const vmOptions: VmOptions = {
    architecture: system.architecture,
    firmware: bootFlowOf(target).vm!.firmware(system.architecture),
    image: built.outputs.image,
    stateDir,
    memoryMiB: options.memoryMiB,
    cpus: options.cpus,
    accel: accel.accel,
    sshPort: options.sshPort,
    restrictNetwork: options.restrictNetwork,
    diskBytes: options.diskBytes ?? built.layout.size + 2 ** 30,
  };
  const files = await prepareVm(vmOptions);
  session.note(`booting ${systemName} with ${accel.reason}\n(serial console below; Ctrl-C or \`poweroff\` ends it; ssh: ssh -p ${options.sshPort} root@127.0.0.1)`);
  const result = (exit: BootResult['exit']): BootResult => ({ system: systemName, accel: accel.accel, resets, exit });
  let resets = 0;
  for (;;) {
    const vm = startQemu(vmOptions, files, { stdin: 'inherit', echo: true });
    let stoppedByUs = false;
    const stop = onCleanup(() => {
      stoppedByUs = true; // Ctrl-C or another interruption: the CLI's own handler reports it
      return vm.stop();
    });
    const exit = await vm.exited;
    if (stoppedByUs) return result('interrupted');
    await stop();
    if (exit.kind === 'reset') {
      resets++;
      session.note(`\n[bakery] the guest reset; starting it again (same disk)`);
      continue;
    }
    if (exit.kind === 'poweroff') return result('poweroff');
    // Ctrl-C reaches QEMU too; the CLI's own handler reports the interruption.
    if (exit.signal === 'SIGINT' || exit.signal === 'signal 2') return result('interrupted');
    throw new UserError(`the VM ended unexpectedly: ${exit.reason}`, accel.accel === 'kvm' ? 'try --accel tcg' : undefined);
  }
}
