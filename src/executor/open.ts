import { existsSync } from 'node:fs';
import { UserError } from '../errors.js';
import { dockerClient, dockerReachable, startDockerExecutor } from './docker.js';
import type { Executor, WorkerMounts } from './executor.js';
import { startLocalExecutor } from './local.js';
import { ensureWorkerImage, knownWorkerTag } from './worker-image.js';

export type ExecutorChoice = 'auto' | 'docker' | 'local';

export interface OpenExecutorOptions {
  choice: ExecutorChoice;
  mounts: WorkerMounts;
  mirror?: string;
  log: (line: string) => void;
  detail?: (line: string) => void;
}

export function localExecutorPossible(): boolean {
  return process.platform === 'linux' && process.getuid?.() === 0 && existsSync('/etc/debian_version');
}

/**
 * Docker when an engine answers; otherwise this host itself when it can do the work (root on a
 * Debian-family Linux, e.g. inside a CI container). `--executor` forces either.
 */
export async function openExecutor(options: OpenExecutorOptions): Promise<Executor> {
  const docker = dockerClient();
  const reachable = options.choice !== 'local' && (await dockerReachable(docker));
  if (options.choice === 'docker' && !reachable) {
    throw new UserError(
      `no Docker engine answers at ${process.env.DOCKER_HOST ?? '/var/run/docker.sock'}`,
      "start dockerd (or set DOCKER_HOST, e.g. to Podman's socket), or use --executor local as root",
    );
  }
  if (reachable) {
    const image = await ensureWorkerImage(docker, options);
    return startDockerExecutor(docker, image, options.mounts);
  }
  if (!localExecutorPossible()) {
    throw new UserError(
      'no Docker engine answers, and this host cannot run the build itself (that needs root on a Debian-family Linux)',
      'start a Docker engine (or set DOCKER_HOST), or run as root on Debian with --executor local; `bakery doctor` checks both',
    );
  }
  if (options.choice === 'auto') {
    // Said every time: the host's tools are not the worker image's, so nothing built in Docker is reused.
    options.log(`executor: no Docker engine answers at ${process.env.DOCKER_HOST ?? '/var/run/docker.sock'}; building on this host as root (--executor local). Cache keys name the tools, so layers built by the Docker worker are not reused, and these are not reused by it`);
  }
  return startLocalExecutor();
}

/** The tools id a real run would use, found without building or starting anything. */
export async function predictToolsId(choice: ExecutorChoice): Promise<string> {
  const docker = dockerClient();
  if (choice !== 'local' && (await dockerReachable(docker))) return (await knownWorkerTag(docker)) ?? '(worker image not built yet)';
  return 'local';
}
