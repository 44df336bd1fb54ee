import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterEach } from 'vitest';
import { runCli } from '../src/cli/run.js';

const made: string[] = [];
afterEach(async () => {
  while (made.length) await rm(made.pop()!, { recursive: true, force: true });
});

/**
 * A temporary project from a map of relative path → content, removed after the test unless
 * `keep` (then the caller removes it). Files whose path ends in `.sh` are made executable.
 */
export async function tempProject(files: Record<string, string>, options: { keep?: boolean } = {}): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'bakery-test-'));
  if (!options.keep) made.push(dir);
  for (const [rel, content] of Object.entries(files)) {
    const file = path.join(dir, rel);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, content);
    if (rel.endsWith('.sh')) await chmod(file, 0o755);
  }
  return dir;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function capture(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(Buffer.from(chunk));
      cb();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString() };
}

/** Runs the CLI in this process with captured streams. */
export async function bakery(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  const out = capture();
  const err = capture();
  const code = await runCli(args, {
    stdout: out.stream,
    stderr: err.stream,
    env: { ...process.env, ...options.env },
    cwd: options.cwd ?? process.cwd(),
    interactive: false,
  });
  return { code, stdout: out.text(), stderr: err.text() };
}
