/**
 * From a system's rootfs layer to build/<system>/system.img: partition images (ext4 from the
 * layer's snapshots mounted read-only as one tree, the boot partition from the boot flow, an empty data filesystem), the partition
 * table, a bmap and build info — written under temporary names, renamed when complete.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { UserError } from '../errors.js';
import { runStep, type LayerBuildEnv, type LayerResult } from '../engine/build-layer.js';
import { canonicalJson, hashTree, sha256 } from '../engine/hash.js';
import type { SystemPlan } from '../engine/system.js';
import type { Task, TaskContext } from '../engine/tasks.js';
import { ROOTFS_TOOL } from '../engine/steps.js';
import { GRUB_PLATFORM, grubConfig, INITIAL_GRUB_ENV } from '../targets/grub-efi.js';
import { BAKERY_HOME } from '../util/paths.js';
import { onCleanup } from '../util/cleanup.js';
import { planLayout, sfdiskScript, type DiskLayout } from './layout.js';

export const IMAGE_TOOL = path.join(BAKERY_HOME, 'worker', 'bin', 'image');

export interface ImageOutputs {
  dir: string;
  image: string;
  bmap: string;
  compressed?: string;
  buildInfo: string;
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
}

export function imageOutputs(buildDir: string, system: string, compress: string): ImageOutputs {
  const dir = path.join(buildDir, system);
  return {
    dir,
    image: path.join(dir, 'system.img'),
    bmap: path.join(dir, 'system.img.bmap'),
    compressed: compress === 'none' ? undefined : path.join(dir, `system.img.${compress === 'zstd' ? 'zst' : 'xz'}`),
    buildInfo: path.join(dir, 'build-info.json'),
  };
}

/** The boot partition's content for the target's boot flow. Only grub-efi is implemented. */
function bootFlowFiles(plan: SystemPlan, layout: DiskLayout): { grubCfg: string } {
  const flow = plan.target.config['boot-flow'];
  if (flow !== 'grub-efi') {
    throw new UserError(
      `target "${plan.target.name}" uses the ${flow} boot flow, which bakery cannot assemble yet (its target file is a draft)`,
      'build a generic-efi system, or follow the issue that implements this boot flow',
    );
  }
  return { grubCfg: grubConfig(layout) };
}

/** Everything that decides the image's bytes; unchanged → the image is up to date. */
export async function imageKey(plan: SystemPlan, layout: DiskLayout, grubCfg: string, toolsId: string): Promise<string> {
  return sha256(
    canonicalJson({ rootfs: plan.rootfs.key, layout, grubCfg, tools: toolsId, scripts: await hashTree(path.dirname(IMAGE_TOOL)), compress: plan.system.image.compress }),
  );
}

/** What decides a slot filesystem's bytes besides its layer: its size, identifiers, the tool. */
async function slotKey(slot: { size: number; fsId?: string; hashSeed?: string; label?: string }): Promise<string> {
  return sha256(canonicalJson({ size: slot.size, fsId: slot.fsId, hashSeed: slot.hashSeed, label: slot.label, tool: sha256(await readFile(IMAGE_TOOL)) }));
}

export async function upToDate(outputs: ImageOutputs, key: string): Promise<BuildInfo | undefined> {
  try {
    const info = JSON.parse(await readFile(outputs.buildInfo, 'utf8')) as BuildInfo;
    if (info.imageKey !== key || !existsSync(outputs.image) || !existsSync(outputs.bmap)) return undefined;
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
  const { grubCfg } = bootFlowFiles(plan, layout);
  const work = path.join(outputs.dir, 'work', `image~${hostname()}~${process.pid}~${randomBytes(4).toString('hex')}`);
  const part = (name: string) => path.join(work, `${name}.img`);
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
  const byRole = (role: string) => layout.partitions.find((p) => p.role === role);
  result.layout = layout;
  result.outputs = outputs;

  return [
    {
      title: 'image',
      run: async (ctx) => {
        const key = await imageKey(plan, layout, grubCfg, env.executor.toolsId);
        result.key = key;
        const current = await upToDate(outputs, key);
        if (current) {
          result.info = current;
          ctx.reuse(`up to date: ${path.relative(process.cwd(), outputs.image) || outputs.image}`);
          return;
        }
        await mkdir(work, { recursive: true });
        const removeWork = onCleanup(() => env.executor.exec([ROOTFS_TOOL, 'remove', work]).catch(() => undefined));
        await writeFile(path.join(work, 'grub.cfg'), grubCfg);
        await writeFile(path.join(work, 'sfdisk'), sfdiskScript(layout));
        const rootA = byRole('rootfs-a')!;
        const data = byRole('data')!;
        const boot = byRole('boot')!;
        const { platform, efiName } = GRUB_PLATFORM[system.architecture];
        let slotImage = part('rootfs');
        return [
          {
            title: `rootfs slot image (${Math.round(rootA.size / 2 ** 20)} MiB ext4)`,
            run: async (c) => {
              // The slot filesystem is kept beside its layer: a new image of the same layer (other
              // sizes of boot or data, another disk size) copies it instead of making it again.
              const name = `slot-${(await slotKey(rootA)).slice(0, 16)}.ext4`;
              const cached = env.cache.derivedPath(plan.rootfs.key, name);
              if (existsSync(cached)) {
                slotImage = cached;
                c.reuse(`cached: the slot filesystem of layer ${plan.rootfs.key.slice(0, 12)}`);
                return;
              }
              const temp = env.cache.tempDerived(plan.rootfs.key, name);
              onCleanup(() => rm(temp, { force: true }));
              await mountRootfs(c);
              await runStep(env, c, where('rootfs'), [IMAGE_TOOL, 'ext4', temp, String(rootA.size), rootA.fsId, rootA.hashSeed, rootA.label, rootfs], vars);
              slotImage = await env.cache.commitDerived(plan.rootfs.key, name, temp);
            },
          },
          {
            title: 'boot partition (GRUB A/B)',
            run: async (c) => {
              await mountRootfs(c);
              await runStep(
                env,
                c,
                where('boot'),
                [IMAGE_TOOL, 'esp', rootfs, part('boot'), String(boot.size), boot.fsId, boot.label, platform, efiName, path.join(work, 'grub.cfg'), ...INITIAL_GRUB_ENV],
                vars,
              );
            },
          },
          {
            title: 'data filesystem',
            run: (c) => runStep(env, c, where('data'), [IMAGE_TOOL, 'ext4', part('data'), String(data.size), data.fsId, data.hashSeed, data.label], vars),
          },
          {
            title: 'disk image',
            run: (c) =>
              runStep(
                env,
                c,
                where('disk'),
                [IMAGE_TOOL, 'disk', tmp.image, String(layout.size), path.join(work, 'sfdisk'), `${part('boot')}@${boot.start}`, `${slotImage}@${rootA.start}`, `${part('data')}@${data.start}`],
                vars,
              ),
          },
          { title: 'bmap', run: (c) => runStep(env, c, where('bmap'), [IMAGE_TOOL, 'bmap', tmp.image, tmp.bmap], vars) },
          ...(outputs.compressed
            ? [{ title: `compress (${system.image.compress})`, run: (c: Parameters<Task['run']>[0]) => runStep(env, c, where('compress'), [IMAGE_TOOL, 'compress', tmp.image, system.image.compress, tmp.compressed], vars) }]
            : []),
          {
            title: 'write outputs',
            run: async () => {
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
              };
              // Outputs appear under their final names only when complete; build info last.
              await rename(tmp.image, outputs.image);
              await rename(tmp.bmap, outputs.bmap);
              if (outputs.compressed) await rename(tmp.compressed, outputs.compressed);
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
