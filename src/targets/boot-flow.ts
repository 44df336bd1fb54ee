/**
 * The seam between a hardware family and the rest of bakery. A family is one target TOML (data:
 * table, partitions, raw areas, recipes), one module implementing `BootFlow`, and one device
 * recipe; image assembly, the engine and the VM runner ask the flow and know no family.
 */
import type { System } from '../config/project.js';
import type { Architecture } from '../config/schema.js';
import type { Target } from '../config/target.js';
import type { PlannedPartition, DiskLayout } from '../image/layout.js';
import type { VmFirmware } from '../vm/firmware.js';

export type RecipeParameters = Record<string, Record<string, string | number | boolean>>;

/** Paths the image tool's command for a boot partition may use. */
export interface BootPartitionPaths {
  /** The system's root filesystem, mounted read-only (boot loader binaries, kernels). */
  rootfs: string;
  /** The image's work directory, holding the partition's `files`. */
  work: string;
  /** The partition image to write. */
  out: string;
}

/** How one partition of the layout that belongs to the boot flow is made. */
export interface BootPartition {
  role: PlannedPartition['role'];
  /** Shown in the progress tree, e.g. "boot partition (GRUB A/B)". */
  title: string;
  /** Text files written into the work directory before the command runs (name → content). */
  files: Record<string, string>;
  /** Arguments of the worker's image tool that make the partition image. */
  command(paths: BootPartitionPaths): string[];
}

export interface BootFlow {
  /** The target's `boot-flow` value. */
  name: string;
  /** Architectures the flow can assemble images for. */
  architectures: Architecture[];
  /** Parameters of the device recipes, derived from the system's settings and the target's layout (explicit ones win). */
  recipeParameters(system: System, target: Target): RecipeParameters;
  /** The partitions the flow fills (boot, boot-config, boot-a/-b), for a planned layout. Their files and commands are part of the image key. */
  bootPartitions(system: System, layout: DiskLayout): BootPartition[];
  /** How QEMU starts the machine for `run` and `test`; absent: the flow cannot be emulated. */
  vm?: { firmware(architecture: Architecture): VmFirmware };
}
