import Docker from 'dockerode';
import { hostname } from 'node:os';
import { PassThrough } from 'node:stream';
import { UserError } from '../errors.js';
import { onCleanup } from '../util/cleanup.js';
import { ExecFailed, WORKER_CAPABILITIES, type ExecOptions, type Executor, type WorkerMounts } from './executor.js';

const LABEL = 'dev.bakery.worker';
const PID_DIR = '/run/bakery-exec';

/** A Docker client for DOCKER_HOST (or the default socket; Podman's compatible socket works too). */
/** The engine a unix:// DOCKER_HOST of `env` names; else dockerode's own reading of the process's environment (tcp, TLS). */
export function dockerClient(env: NodeJS.ProcessEnv = process.env): Docker {
  const host = env.DOCKER_HOST;
  return host?.startsWith('unix://') ? new Docker({ socketPath: host.slice('unix://'.length) }) : new Docker();
}

export async function dockerReachable(docker: Docker): Promise<boolean> {
  try {
    await withTimeout(docker.ping(), 5000);
    return true;
  } catch {
    return false;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    promise.then(
      (v) => (clearTimeout(timer), resolve(v)),
      (e) => (clearTimeout(timer), reject(e)),
    );
  });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes worker containers left by bakery processes of this host that no longer exist. */
export async function removeStaleWorkers(docker: Docker): Promise<number> {
  const containers = await docker.listContainers({ all: true, filters: { label: [LABEL] } });
  let removed = 0;
  for (const info of containers) {
    const pid = Number(info.Labels['dev.bakery.pid']);
    if (info.Labels['dev.bakery.host'] === hostname() && Number.isInteger(pid) && !pidAlive(pid)) {
      await docker.getContainer(info.Id).remove({ force: true }).catch(() => undefined);
      removed++;
    }
  }
  return removed;
}

async function drain(stream: NodeJS.ReadableStream): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.on('error', reject);
  });
}

/**
 * A worker container that lives for one bakery command; commands run in it with exec. The
 * container is created on first use, so a run where everything is cached starts none.
 */
export async function startDockerExecutor(docker: Docker, image: string, mounts: WorkerMounts): Promise<Executor> {
  const readWrite = [...new Set(mounts.readWrite)];
  const readOnly = [...new Set(mounts.readOnly)].filter((dir) => !readWrite.includes(dir));
  const binds = [...readWrite.map((dir) => `${dir}:${dir}`), ...readOnly.map((dir) => `${dir}:${dir}:ro`)];
  let container: Promise<Docker.Container> | undefined;
  let created: Docker.Container | undefined;
  let execCount = 0;
  const running = new Set<string>();

  const dispose = onCleanup(async () => {
    const c = created ?? (await container?.catch(() => undefined));
    await c?.remove({ force: true }).catch((err: { statusCode?: number }) => {
      if (err.statusCode !== 404) throw err;
    });
  });

  const start = async (): Promise<Docker.Container> => {
    await removeStaleWorkers(docker);
    created = await docker.createContainer({
      Image: image,
      Cmd: ['sleep', 'infinity'],
      Labels: { [LABEL]: '1', 'dev.bakery.pid': String(process.pid), 'dev.bakery.host': hostname() },
      HostConfig: {
        NetworkMode: 'host',
        CapAdd: WORKER_CAPABILITIES,
        SecurityOpt: ['seccomp=unconfined', 'apparmor=unconfined'],
        Binds: binds,
        Init: true,
        Tmpfs: { '/tmp': 'rw,exec,size=2g' },
      },
    });
    try {
      await created.start();
    } catch (err) {
      throw new UserError(`cannot start the worker container: ${(err as Error).message}`, 'run `bakery doctor`');
    }
    return created;
  };

  return {
    kind: 'docker',
    description: `docker worker ${image}`,
    toolsId: image,
    async exec(argv: string[], options: ExecOptions = {}) {
      container ??= start();
      // Each command leads its own session and leaves its id in a pid file, so that interrupt()
      // can stop it with everything it started (Docker has no "kill exec").
      const id = `${process.pid}-${++execCount}`;
      running.add(id);
      try {
        const exec = await (await container).exec({
          Cmd: ['setsid', '-w', '/bin/sh', '-c', `mkdir -p ${PID_DIR} && echo $$ > ${PID_DIR}/${id} && exec "$@"`, 'bakery-exec', ...argv],
          Env: Object.entries(options.env ?? {}).map(([k, v]) => `${k}=${v}`),
          AttachStdout: true,
          AttachStderr: true,
        });
        const stream = await exec.start({ hijack: true, stdin: false });
        const sink = new PassThrough();
        sink.on('data', (chunk: Buffer) => options.output?.(chunk));
        docker.modem.demuxStream(stream, sink, sink);
        await drain(stream);
        const { ExitCode } = await exec.inspect();
        if (ExitCode !== 0) throw new ExecFailed(argv, ExitCode ?? null);
      } finally {
        running.delete(id);
      }
    },
    async interrupt() {
      if (!created || running.size === 0) return;
      const groups = [...running].map((id) => `kill -TERM -- -$(cat ${PID_DIR}/${id}) 2>/dev/null`).join('; ');
      const exec = await created.exec({ Cmd: ['/bin/bash', '-c', `${groups}; sleep 1; ${groups.replaceAll('-TERM', '-KILL')}; true`] });
      const stream = await exec.start({ hijack: true, stdin: false });
      stream.resume();
      await drain(stream).catch(() => undefined);
    },
    dispose,
  };
}
