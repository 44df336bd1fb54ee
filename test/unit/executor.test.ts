import { afterEach, describe, expect, it } from 'vitest';
import { localExecutorPossible, openExecutor } from '../../src/executor/open.js';
import { runAllCleanups } from '../../src/util/cleanup.js';

const saved = process.env.DOCKER_HOST;
afterEach(async () => {
  if (saved === undefined) delete process.env.DOCKER_HOST;
  else process.env.DOCKER_HOST = saved;
  await runAllCleanups();
});

describe('choosing the executor', () => {
  it('auto without a Docker engine says it builds on this host, and why keys differ; or why it cannot', async () => {
    process.env.DOCKER_HOST = 'unix:///nonexistent/docker.sock';
    const lines: string[] = [];
    const open = openExecutor({ choice: 'auto', mounts: { readWrite: [], readOnly: [] }, log: (l) => lines.push(l) });
    if (localExecutorPossible()) {
      const executor = await open;
      expect(executor.kind).toBe('local');
      expect(lines.join('\n')).toContain('executor: no Docker engine answers at unix:///nonexistent/docker.sock; building on this host as root (--executor local)');
      expect(lines.join('\n')).toContain('layers built by the Docker worker are not reused');
    } else {
      await expect(open).rejects.toThrow('no Docker engine answers, and this host cannot run the build itself');
    }
  });

  it('docker without an engine is refused, naming where it looked', async () => {
    process.env.DOCKER_HOST = 'unix:///nonexistent/docker.sock';
    await expect(openExecutor({ choice: 'docker', mounts: { readWrite: [], readOnly: [] }, log: () => undefined })).rejects.toThrow('no Docker engine answers at unix:///nonexistent/docker.sock');
  });
});
