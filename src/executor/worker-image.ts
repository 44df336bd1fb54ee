/**
 * The worker image: built from worker/Dockerfile through the Docker API, tagged by a hash of its
 * definition and base. The base is a local image when there is one, pulled when a registry
 * answers, and otherwise bootstrapped here with mmdebstrap and imported (air-gapped hosts).
 */
import type Docker from 'dockerode';
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as tar from 'tar';
import { UserError } from '../errors.js';
import { BAKERY_HOME } from '../util/paths.js';
import { which } from '../util/which.js';

export const WORKER_DIR = path.join(BAKERY_HOME, 'worker');
export const WORKER_SUITE = 'trixie';
const PULL_BASE = `debian:${WORKER_SUITE}-slim`;
const LOCAL_BASE = `bakery-base:${WORKER_SUITE}`;

export interface WorkerImageOptions {
  mirror?: string;
  /** What is happening, one line at a time. */
  log: (line: string) => void;
  /** Tool output (image build, bootstrap); shown with --debug. */
  detail?: (line: string) => void;
}

async function imageId(docker: Docker, ref: string): Promise<string | undefined> {
  try {
    return (await docker.getImage(ref).inspect()).Id;
  } catch {
    return undefined;
  }
}

function tagFor(dockerfile: string, baseId: string): string {
  return `bakery-worker:${createHash('sha256').update(dockerfile).update('\0').update(baseId).digest('hex').slice(0, 12)}`;
}

/** The worker tag if its base is already here (no pulling, no bootstrapping): for dry runs. */
export async function knownWorkerTag(docker: Docker): Promise<string | undefined> {
  const dockerfile = await readFile(path.join(WORKER_DIR, 'Dockerfile'), 'utf8');
  for (const ref of [process.env.BAKERY_WORKER_BASE, LOCAL_BASE, PULL_BASE]) {
    const id = ref ? await imageId(docker, ref) : undefined;
    if (id) return tagFor(dockerfile, id);
  }
  return undefined;
}

/** The worker image's tag, building it first when it is missing. */
export async function ensureWorkerImage(docker: Docker, options: WorkerImageOptions): Promise<string> {
  const dockerfile = await readFile(path.join(WORKER_DIR, 'Dockerfile'), 'utf8');
  const base = await ensureBaseImage(docker, options);
  const tag = tagFor(dockerfile, (await imageId(docker, base))!);
  if (await imageId(docker, tag)) return tag;
  options.log(`building worker image ${tag} (once; later builds reuse it)`);
  const context = tar.c({ cwd: WORKER_DIR, portable: true }, ['Dockerfile']);
  const stream = await docker.buildImage(context as unknown as NodeJS.ReadableStream, {
    t: tag,
    buildargs: { BASE: base, MIRROR: options.mirror ?? '', SUITE: WORKER_SUITE },
    networkmode: 'host',
    rm: true,
    forcerm: true,
    labels: { 'dev.bakery.worker-image': '1' },
  });
  const tail: string[] = [];
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (err, output) => {
        const failed = err ?? (output as { error?: string }[]).find((o) => o.error)?.error;
        if (failed) reject(new UserError(`building the worker image failed: ${String(failed)}\n${tail.slice(-15).join('\n')}`));
        else resolve();
      },
      (event: { stream?: string; error?: string }) => {
        const text = event.stream ?? event.error;
        if (!text) return;
        for (const line of text.split('\n').filter(Boolean)) {
          tail.push(line);
          options.detail?.(line);
        }
      },
    );
  });
  return tag;
}

async function ensureBaseImage(docker: Docker, options: WorkerImageOptions): Promise<string> {
  const configured = process.env.BAKERY_WORKER_BASE;
  if (configured) {
    if (await imageId(docker, configured)) return configured;
    throw new UserError(`BAKERY_WORKER_BASE names image "${configured}", which this Docker engine does not have`, `docker pull ${configured}, or unset BAKERY_WORKER_BASE`);
  }
  if (await imageId(docker, LOCAL_BASE)) return LOCAL_BASE;
  if (await imageId(docker, PULL_BASE)) return PULL_BASE;
  if (process.env.BAKERY_OFFLINE !== '1') {
    try {
      options.log(`pulling ${PULL_BASE}`);
      const stream = await docker.pull(PULL_BASE);
      await new Promise<void>((resolve, reject) => docker.modem.followProgress(stream, (err) => (err ? reject(err) : resolve())));
      return PULL_BASE;
    } catch (err) {
      options.log(`no registry reachable (${(err as Error).message.split('\n')[0]}); bootstrapping the base image locally`);
    }
  }
  await bootstrapBaseImage(docker, options);
  return LOCAL_BASE;
}

/** mmdebstrap a minimal Debian into a tarball stream and import it as the base image. */
export async function bootstrapBaseImage(docker: Docker, options: WorkerImageOptions): Promise<void> {
  if (process.getuid?.() !== 0 || !(await which('mmdebstrap'))) {
    throw new UserError(
      'no base image for the worker: no registry is reachable, and bootstrapping one here needs root and mmdebstrap',
      'as root: apt-get install mmdebstrap, then run bakery again; or load an image and set BAKERY_WORKER_BASE=<image>',
    );
  }
  options.log(`bootstrapping ${LOCAL_BASE} with mmdebstrap`);
  const args = ['--variant=minbase', '--include=ca-certificates', WORKER_SUITE, '-'];
  if (options.mirror) args.push(options.mirror);
  const child = execa('mmdebstrap', args, { stdout: 'pipe', stderr: 'pipe', buffer: { stdout: false, stderr: true } });
  child.stderr?.on('data', (chunk: Buffer) => chunk.toString().split('\n').filter(Boolean).forEach((l) => options.detail?.(l)));
  const [repo, tag] = LOCAL_BASE.split(':');
  const importStream = await docker.importImage(child.stdout as unknown as string, { repo, tag });
  await child.catch((err: { stderr?: string; message: string }) => {
    throw new UserError(`mmdebstrap could not bootstrap the worker base: ${String(err.stderr ?? err.message).slice(-2000)}`);
  });
  await new Promise<void>((resolve, reject) => docker.modem.followProgress(importStream, (err) => (err ? reject(err) : resolve())));
}
