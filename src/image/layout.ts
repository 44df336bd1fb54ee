/**
 * Partition layout math: where each partition of a target goes on the disk, for a system and
 * the size of its root filesystem. Pure — every size rule and error is unit-tested.
 */
import type { System } from '../config/project.js';
import { formatSize } from '../config/size.js';
import { gptTypeGuid, type Partition, type Target } from '../config/target.js';
import { UserError } from '../errors.js';
import { hex32For, uuidFor } from './ids.js';

const MiB = 1024 * 1024;
/** GPT keeps a backup table in the last 33 sectors; leave the last MiB free. */
const GPT_TAIL = MiB;
const MBR_LIMIT = 2 ** 32 * 512;
const DEFAULT_SIZES: Partial<Record<Partition['role'], number>> = { boot: 64 * MiB, 'boot-config': 16 * MiB, 'boot-a': 128 * MiB, 'boot-b': 128 * MiB, data: 128 * MiB, firmware: 16 * MiB, reserved: 16 * MiB };
const MIN_DATA = 16 * MiB;

export interface PlannedPartition {
  number: number;
  name: string;
  role: Partition['role'];
  filesystem: Partition['filesystem'];
  /** GPT type GUID, or the MBR type byte. */
  type: string;
  label: string;
  bootable: boolean;
  start: number;
  size: number;
  /** GPT partition GUID. */
  uuid: string;
  /** Filesystem id: ext4 UUID, or FAT volume id. */
  fsId: string;
  /** ext4 directory hash seed. */
  hashSeed: string;
}

export interface DiskLayout {
  table: 'gpt' | 'mbr';
  diskId: string;
  size: number;
  partitions: PlannedPartition[];
  raw: { name: string; offset: number; maxSize: number; input: string }[];
}

const alignUp = (n: number, a: number) => Math.ceil(n / a) * a;

/**
 * The size a rootfs slot gets when none is set: the content, room for ext4's own metadata and
 * journal, and headroom for later updates to grow into (a slot's size is fixed once flashed).
 */
export function defaultRootfsSize(contentBytes: number): number {
  return alignUp(Math.ceil(contentBytes * 1.3) + 256 * MiB, 64 * MiB);
}

/** What ext4 needs to hold `contentBytes`: inode tables, journal, reserved blocks. */
export function minimumExt4Size(contentBytes: number): number {
  return alignUp(Math.ceil(contentBytes * 1.1) + 48 * MiB, MiB);
}

export function planLayout(system: System, target: Target, rootfsContentBytes: number): DiskLayout {
  const t = target.config;
  const align = Math.max(t.alignment, 512);
  const sizeOf = (p: Partition): number => {
    if (p.role === 'rootfs-a' || p.role === 'rootfs-b') {
      const given = system.image['rootfs-size'] ?? p.size;
      const needed = minimumExt4Size(rootfsContentBytes);
      if (given !== undefined && given < needed) {
        throw new UserError(
          `partition ${p.name}: the root filesystem needs ${formatSize(needed)} (content ${formatSize(rootfsContentBytes)} plus ext4 metadata), but ${formatSize(given)} is given`,
          `raise [systems.${system.name}.image] rootfs-size to at least "${Math.ceil(needed / MiB)}M", or leave it unset to size the slot from its content`,
        );
      }
      return alignUp(given ?? defaultRootfsSize(rootfsContentBytes), align);
    }
    if (p.role === 'data') return alignUp(system.image['data-size'] ?? p.size ?? DEFAULT_SIZES.data!, align);
    return alignUp(p.size ?? DEFAULT_SIZES[p.role] ?? 16 * MiB, align);
  };

  let cursor = alignUp(Math.max(t['first-partition-offset'], align), align);
  const partitions: PlannedPartition[] = t.partitions.map((p, i) => {
    const start = cursor;
    const size = sizeOf(p);
    cursor = start + size;
    const seed = `${system.name}:${p.name}`;
    return {
      number: i + 1,
      name: p.name,
      role: p.role,
      filesystem: p.filesystem,
      type: t['partition-table'] === 'gpt' ? gptTypeGuid(p.type) : p.type.toLowerCase(),
      label: p.label ?? p.name,
      bootable: p.bootable,
      start,
      size,
      uuid: uuidFor(`${seed}:partition`),
      // Both slots carry the same filesystem image, so they share its id: A's.
      fsId: p.filesystem === 'vfat' ? hex32For(`${seed}:fat`) : uuidFor(`${system.name}:${p.role.startsWith('rootfs') ? 'rootfs' : p.name}:fs`),
      hashSeed: uuidFor(`${system.name}:${p.role.startsWith('rootfs') ? 'rootfs' : p.name}:hash`),
    };
  });

  const needed = cursor + (t['partition-table'] === 'gpt' ? GPT_TAIL : 0);
  let size = alignUp(needed, MiB);
  const wanted = system.image.size;
  if (wanted !== undefined) {
    if (wanted < needed) {
      throw new UserError(
        `system ${system.name}: the image size ${formatSize(wanted)} is too small; the layout of target "${target.name}" needs ${formatSize(needed)}`,
        `raise [systems.${system.name}.image] size, or lower rootfs-size / data-size`,
      );
    }
    // The data partition (last by convention) takes what is left.
    const last = partitions.at(-1)!;
    if (last.role === 'data') last.size = Math.max(MIN_DATA, Math.floor((wanted - (t['partition-table'] === 'gpt' ? GPT_TAIL : 0) - last.start) / align) * align);
    size = wanted;
  }
  if (t['partition-table'] === 'mbr' && size > MBR_LIMIT) {
    throw new UserError(`system ${system.name}: an MBR partition table addresses at most 2 TiB, the image is ${formatSize(size)}`, 'use partition-table = "gpt"');
  }
  for (const blob of t.raw) {
    if (blob.offset + blob['max-size'] > partitions[0]!.start) {
      throw new UserError(`target ${target.name}: raw area "${blob.name}" (offset ${blob.offset}, up to ${blob['max-size']} bytes) overlaps the first partition at ${partitions[0]!.start}`);
    }
  }
  return {
    table: t['partition-table'],
    diskId: t['partition-table'] === 'gpt' ? uuidFor(`${system.name}:disk`) : hex32For(`${system.name}:disk`),
    size,
    partitions,
    raw: t.raw.map((b) => ({ name: b.name, offset: b.offset, maxSize: b['max-size'], input: b.input })),
  };
}

/** The sfdisk script that writes the layout's partition table. */
export function sfdiskScript(layout: DiskLayout): string {
  const lines = [`label: ${layout.table === 'gpt' ? 'gpt' : 'dos'}`, `label-id: ${layout.table === 'gpt' ? layout.diskId.toUpperCase() : `0x${layout.diskId}`}`, 'unit: sectors', 'sector-size: 512', ''];
  for (const p of layout.partitions) {
    const fields = [`start=${p.start / 512}`, `size=${p.size / 512}`, `type=${p.type}`];
    if (layout.table === 'gpt') fields.push(`uuid=${p.uuid.toUpperCase()}`, `name="${p.name}"`);
    // U-Boot's distro boot scans the partitions marked bootable for its script.
    if (p.bootable) fields.push(layout.table === 'gpt' ? 'attrs="LegacyBIOSBootable"' : 'bootable');
    lines.push(fields.join(', '));
  }
  return `${lines.join('\n')}\n`;
}
