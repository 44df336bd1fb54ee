/**
 * A system's build plan: its layer chain, then its own layer — the target's recipes applied over
 * the system's layer with the system's settings as their parameters.
 */
import { assertUsable, type Project, type System } from '../config/project.js';
import type { Target } from '../config/target.js';
import { UserError } from '../errors.js';
import { findBootFlow } from '../targets/registry.js';
import { planLayer, type LayerPlan, type PlanOptions } from './plan.js';

export interface SystemPlan {
  system: System;
  target: Target;
  layers: LayerPlan[];
  /** The layer that becomes the rootfs slot image. */
  rootfs: LayerPlan;
}

/** The system and its target, once everything the system is made of is valid. */
export function findSystem(project: Project, name: string): { system: System; target: Target } {
  const system = project.systems.get(name);
  if (!system) {
    const known = [...project.systems.keys()];
    throw new UserError(`unknown system "${name}"`, known.length ? `systems in ${project.systemsFile}: ${known.join(', ')}` : `${project.systemsFile} defines no systems`);
  }
  assertUsable(project, { system: name });
  return { system, target: project.targets.get(system.target)! };
}

/** What the device side of updates needs from the build host: the certificate(s) it trusts. */
export interface SystemSecrets {
  /** PEM text of the RAUC keyring; undefined when the certificate does not exist (yet). */
  keyring?: string;
}

/** Recipe parameters of the system's own layer: its explicit ones, plus its runtime settings. */
export function systemParameters(system: System, target: Target, secrets: SystemSecrets = {}): Record<string, Record<string, string | number | boolean>> {
  const params: Record<string, Record<string, string | number | boolean>> = structuredClone(system.parameters);
  // The target's defaults for its recipes (a board's device tree, its console); the system's own values win.
  for (const [recipe, values] of Object.entries(target.config.parameters)) params[recipe] = { ...values, ...params[recipe] };
  if (target.config.recipes.includes('bakery-readonly-root')) {
    const ro = (params['bakery-readonly-root'] ??= {});
    if (system['overlay-size'] !== undefined) ro.overlay_size = system['overlay-size'];
    if (system['persistent-paths'].length) ro.persistent_paths = [String(ro.persistent_paths ?? ''), ...system['persistent-paths']].join(' ').trim();
  }
  if (target.config.recipes.includes('bakery-rauc')) {
    const partition = (...roles: string[]) => target.config.partitions.find((p) => roles.includes(p.role))?.name;
    // Explicit [systems.x.parameters.bakery-rauc] values win over what is derived here.
    params['bakery-rauc'] = {
      compatible: system.bundle.compatible ?? system.name,
      keyring: secrets.keyring ?? '',
      bootloader: target.config['rauc-bootloader'],
      boot_partition: partition('boot', 'boot-config', 'boot-a') ?? 'boot',
      slot_a: partition('rootfs-a')!,
      slot_b: partition('rootfs-b')!,
      health_timeout: system.health.timeout,
      on_failure: system.health['on-failure'],
      check_failed_units: system.health['check-failed-units'],
      boot_deadline: system.health['boot-deadline'],
      watchdog: system.health.watchdog,
      version: system.version,
      allow_downgrade: system.bundle['allow-downgrade'],
      ...params['bakery-rauc'],
    };
  }
  // The boot flow's device recipes get what they need from the system's settings.
  const flow = findBootFlow(target);
  for (const [recipe, derived] of Object.entries(flow?.recipeParameters(system, target) ?? {})) {
    if (target.config.recipes.includes(recipe)) params[recipe] = { ...derived, ...params[recipe] };
  }
  return params;
}

export async function planSystem(project: Project, name: string, options: PlanOptions, secrets: SystemSecrets = {}): Promise<SystemPlan> {
  const { system, target } = findSystem(project, name);
  const layers = await planLayer(project, system.layer, system.architecture, options, {
    name: system.name,
    recipes: target.config.recipes,
    parameters: systemParameters(system, target, secrets),
    system: system.name,
  });
  return { system, target, layers, rootfs: layers.at(-1)! };
}
