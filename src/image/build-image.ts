/**
 * From a system's rootfs layer to build/<system>/system.img: partition images (ext4 from the
 * layer's snapshots mounted read-only as one tree, the boot partition(s) as the target's boot flow
 * says, an empty data filesystem), raw areas from the system's inputs, the partition table, a
 * bmap and build info — written under temporary names, renamed when complete. Nothing here knows
 * a hardware family: that is the boot flow's (src/targets/).
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { UserError } from '../errors.js';
import { runStep, type LayerBuildEnv, type LayerResult } from '../engine/build-layer.js';
import { canonicalJson, hashTree, sha256, sha256File } from '../engine/hash.js';
import { sbomPaths, writeSboms, type SbomPackage } from '../sbom/documents.js';
import { systemFiles, writeFileList } from '../sbom/files.js';
import { systemPackages } from '../sbom/packages.js';
import type { SystemPlan } from '../engine/system.js';
import type { Task, TaskContext } from '../engine/tasks.js';
import { ROOTFS_TOOL } from '../engine/steps.js';
import type { BootPartition } from '../targets/boot-flow.js';
import { bootFlowOf } from '../targets/registry.js';
import { BAKERY_HOME } from '../util/paths.js';
import { onCleanup } from '../util/cleanup.js';
import { planLayout, sfdiskScript, type DiskLayout, type PlannedPartition } from './layout.js';

export const IMAGE_TOOL = path.join(BAKERY_HOME, 'worker', 'bin', 'image');

export interface ImageOutputs {
  dir: string;
  image: string;
  bmap: string;
  compressed?: string;
  buildInfo: string;
  /** SBOMs of the image (SPDX, CycloneDX). */
  spdx: string;
  cyclonedx: string;
  /** Every file of the root filesystem, with the layer that wrote it (for `diff`). */
  files: string;
}

export interface BuildInfo {
  system: string;
  version: string;
  target: string;
  architecture: string;
  imageKey: string;
  layers: { name: string; key: string }[];
  image: { file: string; size: number; table: string; partitions: { number: number; name: string; role: string; start: number; size: number }[] };
  sourceDateEpoch: number;
  tools: string;
  /** sha256 of system.img. */
  sha256: string;
  /** Every Debian package of the root filesystem, with the layer that installed it. */
  packages: SbomPackage[];
  /** The file list beside it (absent when a snapshot of the chain has no file record). */
  files?: string;
}

const FILE_LIST = 'files.json.gz';

export function imageOutputs(buildDir: string, system: string, compress: string): ImageOutputs {
  const dir = path.join(buildDir, system);
  return {
    dir,
    image: path.join(dir, 'system.img'),
    bmap: path.join(dir, 'system.img.bmap'),
    compressed: compress === 'none' ? undefined : path.join(dir, `system.img.${compress === 'zstd' ? 'zst' : 'xz'}`),
    buildInfo: path.join(dir, 'build-info.json'),
    ...sbomPaths(path.join(dir, 'system.img')),
    files: path.join(dir, FILE_LIST),
  };
}

/** Everything that decides the image's bytes; unchanged → the image is up to date. */
export async function imageKey(plan: SystemPlan, layout: DiskLayout, boot: BootPartition[], raw: RawArea[], toolsId: string): Promise<string> {
  const placeholders = { rootfs: '<rootfs>', work: '<work>', out: '<out>' };
  return sha256(
    canonicalJson({
      rootfs: plan.rootfs.key,
      layout,
      boot: boot.map((b) => ({ role: b.role, files: b.files, command: b.command(placeholders) })),
      raw: raw.map((r) => ({ name: r.name, offset: r.offset, sha256: r.sha256 })),
      tools: toolsId,
      scripts: await hashTree(path.dirname(IMAGE_TOOL)),
      compress: plan.system.image.compress,
    }),
  );
}

/** A raw area's bytes: the system's input, checked against the area's room. */
export interface RawArea {
  name: string;
  offset: number;
  file: string;
  sha256: string;
}

export async function readRawAreas(plan: SystemPlan, layout: DiskLayout, projectDir: string): Promise<RawArea[]> {
  const areas: RawArea[] = [];
  for (const area of layout.raw) {
    const given = plan.system.inputs[area.input];
    const key = `[systems.${plan.system.name}.inputs] ${area.input}`;
    if (given === undefined) throw new UserError(`target "${plan.target.name}" writes the raw area "${area.name}" from the input "${area.input}", which system ${plan.system.name} does not give`, `set ${key} = "path/to/file"`);
    const file = path.resolve(projectDir, given);
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (err) {
      throw new UserError(`${key}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? err})`);
    }
    if (bytes.length === 0) throw new UserError(`${key}: ${file} is empty`);
    if (bytes.length > area.maxSize) {
      throw new UserError(`${key}: ${file} is ${bytes.length} bytes; the raw area "${area.name}" at offset ${area.offset} holds at most ${area.maxSize}`, 'a larger blob would overwrite what follows it on the disk');
    }
    areas.push({ name: area.name, offset: area.offset, file, sha256: sha256(bytes) });
  }
  return areas;
}

/** What decides a slot filesystem's bytes besides its layer: its size, identifiers, the tool. */
async function slotKey(slot: { size: number; fsId?: string; hashSeed?: string; label?: string }): Promise<string> {
  return sha256(canonicalJson({ size: slot.size, fsId: slot.fsId, hashSeed: slot.hashSeed, label: slot.label, tool: sha256(await readFile(IMAGE_TOOL)) }));
}

export async function upToDate(outputs: ImageOutputs, key: string): Promise<BuildInfo | undefined> {
  try {
    const info = JSON.parse(await readFile(outputs.buildInfo, 'utf8')) as BuildInfo;
    if (info.imageKey !== key || !info.packages) return undefined;
    if (![outputs.image, outputs.bmap, outputs.spdx, outputs.cyclonedx, ...(info.files ? [outputs.files] : [])].every((f) => existsSync(f))) return undefined;
    if (outputs.compressed && !existsSync(outputs.compressed)) return undefined;
    return info;
  } catch {
    return undefined;
  }
}

export interface ImageBuild {
  layout: DiskLayout;
  key: string;
  outputs: ImageOutputs;
  info?: BuildInfo;
}

/** Tasks that assemble the image; `result.info` is set when done. */
export function imageTasks(env: LayerBuildEnv, plan: SystemPlan, rootfsLayer: LayerResult, buildDir: string, result: Partial<ImageBuild>): Task[] {
  const { system } = plan;
  const outputs = imageOutputs(buildDir, system.name, system.image.compress);
  const layout = planLayout(system, plan.target, rootfsLayer.entry.contentBytes ?? 0);
  const flow = bootFlowOf(plan.target);
  if (!flow.architectures.includes(system.architecture)) {
    throw new UserError(`system ${system.name}: the ${flow.name} boot flow of target "${plan.target.name}" makes no ${system.architecture} images`, `its architectures: ${flow.architectures.join(', ')}`);
  }
  const bootPartitions = flow.bootPartitions(system, layout);
  const work = path.join(outputs.dir, 'work', `image~${hostname()}~${process.pid}~${randomBytes(4).toString('hex')}`);
  const partImage = (p: PlannedPartition) => path.join(work, `${p.name}.img`);
  // The root filesystem, read-only, while the image is made (unmounted by the work tree's removal).
  const rootfs = path.join(work, 'rootfs');
  let rootfsMounted = false;
  const mountRootfs = async (c: TaskContext) => {
    if (rootfsMounted) return;
    await runStep(env, c, where('mount'), [ROOTFS_TOOL, 'view', rootfs, ...rootfsLayer.lowers], vars);
    rootfsMounted = true;
  };
  const tmp = {
    image: path.join(work, 'system.img'),
    bmap: path.join(work, 'system.img.bmap'),
    compressed: path.join(work, 'system.img.compressed'),
  };
  const vars = { SOURCE_DATE_EPOCH: String(plan.rootfs.sourceDateEpoch), LC_ALL: 'C.UTF-8' };
  const where = (step: string) => [system.name, 'image', step];
  const rootA = layout.partitions.find((p) => p.role === 'rootfs-a')!;
  result.layout = layout;
  result.outputs = outputs;

  // What fills each partition: the flow's boot partitions, slot A's filesystem, empty ext4 for
  // data and other ext4 partitions. Slot B stays empty until the first update writes it.
  const filledBy = new Map<string, BootPartition>(bootPartitions.map((b) => [b.role, b]));
  for (const p of layout.partitions) {
    const bootRole = ['boot', 'boot-config', 'boot-a', 'boot-b'].includes(p.role);
    if (bootRole && !filledBy.has(p.role)) throw new UserError(`target "${plan.target.name}": partition ${p.name} has role "${p.role}", which the ${flow.name} boot flow does not fill`);
    if (!bootRole && p.role !== 'rootfs-a' && p.role !== 'rootfs-b' && p.filesystem !== 'ext4' && p.filesystem !== 'none') {
      throw new UserError(`target "${plan.target.name}": partition ${p.name} (role "${p.role}", ${p.filesystem}) has no content bakery can make; use filesystem "ext4" or "none"`);
    }
  }

  return [
    {
      title: 'image',
      run: async (ctx) => {
        const raw = await readRawAreas(plan, layout, env.project.dir);
        const key = await imageKey(plan, layout, bootPartitions, raw, env.executor.toolsId);
        result.key = key;
        const current = await upToDate(outputs, key);
        if (current) {
          result.info = current;
          ctx.reuse(`up to date: ${path.relative(process.cwd(), outputs.image) || outputs.image}`);
          return;
        }
        await mkdir(work, { recursive: true });
        const removeWork = onCleanup(() => env.executor.exec([ROOTFS_TOOL, 'remove', work]).catch(() => undefined));
        for (const b of bootPartitions) for (const [name, content] of Object.entries(b.files)) await writeFile(path.join(work, name), content);
        await writeFile(path.join(work, 'sfdisk'), sfdiskScript(layout));
        // Blobs are copied next to the image: the worker sees the build directory, not every input's.
        const rawPieces: string[] = [];
        for (const area of raw) {
          const copy = path.join(work, `raw-${area.name}.bin`);
          await copyFile(area.file, copy);
          rawPieces.push(`${copy}@${area.offset}`);
        }
        let slotImage = partImage(rootA);
        let imageHash: Promise<string> | undefined;
        const partitionTasks: Task[] = layout.partitions.flatMap((p): Task[] => {
          const boot = filledBy.get(p.role);
          if (boot) {
            return [{
              title: boot.title,
              run: async (c) => {
                await mountRootfs(c);
                await runStep(env, c, where(p.name), [IMAGE_TOOL, ...boot.command({ rootfs, work, out: partImage(p) })], vars);
              },
            }];
          }
          if (p.role === 'rootfs-a') {
            return [{
              title: `rootfs slot image (${Math.round(p.size / 2 ** 20)} MiB ext4)`,
              run: async (c) => {
                // The slot filesystem is kept beside its layer: a new image of the same layer (other
                // sizes of boot or data, another disk size) copies it instead of making it again.
                const name = `slot-${(await slotKey(p)).slice(0, 16)}.ext4`;
                const cached = env.cache.derivedPath(plan.rootfs.key, name);
                if (existsSync(cached)) {
                  slotImage = cached;
                  c.reuse(`cached: the slot filesystem of layer ${plan.rootfs.key.slice(0, 12)}`);
                  return;
                }
                const temp = env.cache.tempDerived(plan.rootfs.key, name);
                onCleanup(() => rm(temp, { force: true }));
                await mountRootfs(c);
                await runStep(env, c, where('rootfs'), [IMAGE_TOOL, 'ext4', temp, String(p.size), p.fsId, p.hashSeed, p.label, rootfs], vars);
                slotImage = await env.cache.commitDerived(plan.rootfs.key, name, temp);
              },
            }];
          }
          if (p.role === 'rootfs-b' || p.filesystem !== 'ext4') return [];
          return [{
            title: p.role === 'data' ? 'data filesystem' : `${p.name} filesystem`,
            run: (c) => runStep(env, c, where(p.name), [IMAGE_TOOL, 'ext4', partImage(p), String(p.size), p.fsId, p.hashSeed, p.label], vars),
          }];
        });
        const pieces = () =>
          layout.partitions.flatMap((p) => {
            if (p.role === 'rootfs-a') return [`${slotImage}@${p.start}`];
            if (filledBy.has(p.role) || (p.role !== 'rootfs-b' && p.filesystem === 'ext4')) return [`${partImage(p)}@${p.start}`];
            return [];
          });
        return [
          ...partitionTasks,
          {
            title: raw.length ? `disk image (with ${raw.map((r) => r.name).join(', ')})` : 'disk image',
            run: async (c) => {
              await runStep(env, c, where('disk'), [IMAGE_TOOL, 'disk', tmp.image, String(layout.size), path.join(work, 'sfdisk'), ...rawPieces, ...pieces()], vars);
              // Hashed (for build info and SBOMs) while the bmap and the compressed copy are made.
              imageHash = sha256File(tmp.image);
              imageHash.catch(() => undefined);
            },
          },
          { title: 'bmap', run: (c) => runStep(env, c, where('bmap'), [IMAGE_TOOL, 'bmap', tmp.image, tmp.bmap], vars) },
          ...(outputs.compressed
            ? [{ title: `compress (${system.image.compress})`, run: (c: Parameters<Task['run']>[0]) => runStep(env, c, where('compress'), [IMAGE_TOOL, 'compress', tmp.image, system.image.compress, tmp.compressed], vars) }]
            : []),
          {
            title: 'write outputs (SBOMs, build info)',
            run: async (c) => {
              const sbomStarted = Date.now();
              const packages = await systemPackages(env.cache, plan.layers.map((l) => ({ name: l.name, key: l.key })));
              const imageSha256 = await imageHash!;
              const files = await systemFiles(env.cache, plan.layers.map((l) => ({ layer: l.name, snapshots: l.snapshots.map((x) => x.key) })));
              if (files) await writeFileList(path.join(work, FILE_LIST), files);
              const info: BuildInfo = {
                system: system.name,
                version: system.version,
                target: plan.target.name,
                architecture: system.architecture,
                imageKey: key,
                layers: plan.layers.map((l) => ({ name: l.name, key: l.key })),
                image: {
                  file: 'system.img',
                  size: layout.size,
                  table: layout.table,
                  partitions: layout.partitions.map((p) => ({ number: p.number, name: p.name, role: p.role, start: p.start, size: p.size })),
                },
                sourceDateEpoch: plan.rootfs.sourceDateEpoch,
                tools: env.executor.toolsId,
                sha256: imageSha256,
                packages,
                ...(files ? { files: FILE_LIST } : {}),
              };
              // Outputs appear under their final names only when complete; build info last.
              await rename(tmp.image, outputs.image);
              await rename(tmp.bmap, outputs.bmap);
              if (outputs.compressed) await rename(tmp.compressed, outputs.compressed);
              if (files) await rename(path.join(work, FILE_LIST), outputs.files);
              else await rm(outputs.files, { force: true });
              const subject = { file: 'system.img', sha256: imageSha256, kind: 'image' as const, system: system.name, version: system.version, architecture: system.architecture, sourceDateEpoch: plan.rootfs.sourceDateEpoch };
              await writeSboms(outputs.image, subject, packages);
              c.output(`SBOMs and records: ${packages.length} packages${files ? `, ${files.length} files` : ''}, made in ${((Date.now() - sbomStarted) / 1000).toFixed(1)} s\n`);
              const infoTmp = path.join(work, 'build-info.json');
              await writeFile(infoTmp, `${JSON.stringify(info, null, 2)}\n`);
              await rename(infoTmp, outputs.buildInfo);
              result.info = info;
              await removeWork();
            },
          },
        ];
      },
    },
  ];
}
