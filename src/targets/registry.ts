/** Boot flows by the name a target's `boot-flow` gives. */
import type { Project } from '../config/project.js';
import type { Target } from '../config/target.js';
import { UserError } from '../errors.js';
import type { BootFlow } from './boot-flow.js';
import { grubEfi } from './grub-efi.js';
import { uBoot } from './u-boot.js';

const BOOT_FLOWS: Record<string, BootFlow> = {
  [grubEfi.name]: grubEfi,
  [uBoot.name]: uBoot,
};

/** The boot flow of a target; a target whose flow has no module yet is a draft and cannot be assembled. */
export function bootFlowOf(target: Target): BootFlow {
  const name = target.config['boot-flow'];
  const flow = findBootFlow(target);
  if (!flow || target.config.draft) {
    throw new UserError(
      `target "${target.name}" is a draft: bakery cannot assemble its images yet (boot flow ${name}${flow ? '' : ', which has no module'})`,
      `implemented boot flows: ${Object.keys(BOOT_FLOWS).join(', ')}`,
    );
  }
  return flow;
}

/** The boot flow of a target, or undefined for a draft (whose layers still plan). */
export function findBootFlow(target: Target): BootFlow | undefined {
  return target.config.draft ? undefined : BOOT_FLOWS[target.config['boot-flow']];
}

/** Whether `run` and `test` can boot systems of this target in QEMU. */
export function canEmulate(target: Target): boolean {
  return target.config.emulated && findBootFlow(target)?.vm !== undefined;
}

/** Names of the project's targets that `run` and `test` can boot. */
export function emulatedTargets(project: Project): string[] {
  return [...project.targets.values()].filter(canEmulate).map((t) => t.name);
}
