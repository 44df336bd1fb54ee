/**
 * Where privileged commands run. Both executors see the same absolute paths (the Docker worker
 * bind-mounts project, cache and bakery directories at their host paths), so callers never
 * translate paths.
 */
export interface ExecOptions {
  env?: Record<string, string>;
  /** Receives stdout and stderr, interleaved as they arrive. */
  output?: (chunk: Buffer) => void;
}

export interface Executor {
  readonly kind: 'docker' | 'local';
  /** A line for logs and build info: worker image tag, or the host. */
  readonly description: string;
  /** Identifies the tool set; part of every layer cache key. */
  readonly toolsId: string;
  /** Runs argv; resolves on exit code 0, rejects with ExecFailed otherwise. */
  exec(argv: string[], options?: ExecOptions): Promise<void>;
  /** Stops the commands still running (their whole process groups); the worker stays usable. */
  interrupt(): Promise<void>;
  /** Stops everything still running and releases the worker. Safe to call twice. */
  dispose(): Promise<void>;
}

export class ExecFailed extends Error {
  constructor(
    readonly argv: string[],
    readonly exitCode: number | null,
  ) {
    super(`${argv.join(' ')} exited with ${exitCode === null ? 'a signal' : `code ${exitCode}`}`);
    this.name = 'ExecFailed';
  }
}

/** The absolute directories an executor must be able to read and write. */
export interface WorkerMounts {
  readWrite: string[];
  readOnly: string[];
}

/** Capabilities the worker needs for mounts, chroot and device nodes; not --privileged. */
export const WORKER_CAPABILITIES = ['SYS_ADMIN', 'SYS_CHROOT', 'MKNOD', 'SETFCAP', 'DAC_READ_SEARCH', 'SYS_PTRACE', 'LINUX_IMMUTABLE'];
