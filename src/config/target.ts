/**
 * Targets: the hardware-facing half of a system — partition table, partitions by role, raw
 * bootloader blobs at fixed offsets, the boot flow and the recipes every system of the target gets.
 */
import { z } from 'zod';
import type { Origin } from './project.js';
import { Architecture, Name, ParameterValue, Size } from './schema.js';

export const PARTITION_ROLES = ['boot', 'boot-config', 'boot-a', 'boot-b', 'rootfs-a', 'rootfs-b', 'data', 'firmware', 'reserved'] as const;
export const BOOT_FLOWS = ['grub-efi', 'rpi-tryboot', 'u-boot', 'jetson'] as const;

/** GPT type names we know; any GUID is accepted too. MBR uses the hex byte form ("0c", "83"). */
export const GPT_TYPES: Record<string, string> = {
  esp: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B',
  linux: '0FC63DAF-8483-4772-8E79-3D69D8477DE4',
  'linux-root-amd64': '4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709',
  'linux-root-arm64': 'B921B045-1DF0-41C3-AF44-4C6F280D3FAE',
  'microsoft-basic-data': 'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7',
  /** A type of its own so that first-boot growth can find the data partition by type. */
  'bakery-data': '3B8F8425-20E0-4F3B-907F-1A25A76F98E8',
  'linux-home': '933AC7E1-2EB4-4F13-B844-0E14E2AEF915',
};

export const Partition = z.strictObject({
  /** GPT partition name (PARTLABEL); the slot's name in /dev/disk/by-partlabel. */
  name: z.string().regex(/^[A-Za-z0-9_-]{1,36}$/, 'a partition name of up to 36 letters, digits, "_" or "-"'),
  role: z.enum(PARTITION_ROLES),
  /** Fixed size; rootfs slots default to their content plus headroom, data to 128 MiB. */
  size: Size.optional(),
  filesystem: z.enum(['vfat', 'ext4', 'squashfs', 'erofs', 'none']).default('none'),
  /** A name from the GPT type table, a GUID, or an MBR type byte like "0c". */
  type: z.string().default('linux'),
  /** Filesystem label; defaults to the partition name. */
  label: z.string().optional(),
  bootable: z.boolean().default(false),
});
export type Partition = z.infer<typeof Partition>;

export const RawBlob = z.strictObject({
  name: Name,
  /** Byte offset on the disk, e.g. "32K" (sector 64). */
  offset: Size,
  /** Largest the blob may be before it would overwrite what follows. */
  'max-size': Size,
  /** Where the bytes come from: a system input (`[systems.x.inputs] <name> = "path"`). */
  input: Name,
  description: z.string().optional(),
});

export const TargetFile = z
  .strictObject({
    description: z.string(),
    architectures: z.array(Architecture).min(1),
    'partition-table': z.enum(['gpt', 'mbr']),
    /** Where the first partition may start; raw blobs live before it. */
    'first-partition-offset': Size.default(1024 * 1024),
    alignment: Size.default(1024 * 1024),
    'boot-flow': z.enum(BOOT_FLOWS),
    /** RAUC's `bootloader=` for this target. */
    'rauc-bootloader': z.enum(['grub', 'uboot', 'custom', 'efi', 'noop']),
    /** Recipes applied on top of every system's layer for this target. */
    recipes: z.array(Name).default([]),
    /** Defaults for the target's recipes, e.g. the board's device tree: `[parameters.<recipe>]`. A system's own values win. */
    parameters: z.record(Name, z.record(z.string(), ParameterValue)).default({}),
    partitions: z.array(Partition).min(1),
    raw: z.array(RawBlob).default([]),
    /** Whether `run`/`test` can boot this target in QEMU. */
    emulated: z.boolean().default(false),
    /** A layout that validates and is documented, whose images bakery cannot make yet. */
    draft: z.boolean().default(false),
  })
  .superRefine((target, ctx) => {
    const roles = target.partitions.map((p) => p.role);
    for (const needed of ['rootfs-a', 'rootfs-b', 'data'] as const) {
      if (!roles.includes(needed)) ctx.addIssue({ code: 'custom', path: ['partitions'], message: `a target needs a partition with role "${needed}"` });
    }
    if (!roles.some((r) => r === 'boot' || r === 'boot-a' || r === 'boot-config')) {
      ctx.addIssue({ code: 'custom', path: ['partitions'], message: 'a target needs a boot partition (role "boot", "boot-config" or "boot-a")' });
    }
    const seen = new Set<string>();
    target.partitions.forEach((p, i) => {
      if (seen.has(p.name)) ctx.addIssue({ code: 'custom', path: ['partitions', i, 'name'], message: `partition name "${p.name}" is used twice` });
      seen.add(p.name);
      const unique = ['boot', 'boot-config', 'boot-a', 'boot-b', 'rootfs-a', 'rootfs-b', 'data'];
      if (unique.includes(p.role) && roles.indexOf(p.role) !== i) {
        ctx.addIssue({ code: 'custom', path: ['partitions', i, 'role'], message: `role "${p.role}" is given to more than one partition` });
      }
      if (target['partition-table'] === 'gpt' && !GPT_TYPES[p.type] && !/^[0-9A-Fa-f-]{36}$/.test(p.type)) {
        ctx.addIssue({
          code: 'custom',
          path: ['partitions', i, 'type'],
          message: `expected a GPT type (${Object.keys(GPT_TYPES).join(', ')} or a GUID), got "${p.type}"`,
        });
      }
      if (target['partition-table'] === 'mbr' && !/^[0-9A-Fa-f]{1,2}$/.test(p.type)) {
        ctx.addIssue({ code: 'custom', path: ['partitions', i, 'type'], message: `expected an MBR type byte like "0c" or "83", got "${p.type}"` });
      }
    });
    if (target['partition-table'] === 'mbr' && target.partitions.length > 4) {
      ctx.addIssue({
        code: 'custom',
        path: ['partitions'],
        message: `an MBR partition table holds 4 primary partitions, this layout has ${target.partitions.length}`,
      });
    }
  });
export type TargetFile = z.infer<typeof TargetFile>;

export interface Target {
  name: string;
  file: string;
  origin: Origin;
  config: TargetFile;
}

export function gptTypeGuid(type: string): string {
  return (GPT_TYPES[type] ?? type).toUpperCase();
}
