import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** sha256 of a file's bytes, streamed (images are large). */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 4 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** A stable JSON encoding (sorted keys) for hashing structured inputs. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * Hash of a directory tree: every path, its kind, its executable bit and its content. Not mtimes:
 * a fresh checkout of the same files gives the same hash (Rugix rebuilds on mtime; we don't).
 */
export async function hashTree(root: string): Promise<string> {
  const hash = createHash('sha256');
  const walk = async (rel: string): Promise<void> => {
    const abs = path.join(root, rel);
    const info = await lstat(abs);
    if (info.isSymbolicLink()) {
      hash.update(`L ${rel} ${await readlink(abs)}\0`);
    } else if (info.isDirectory()) {
      hash.update(`D ${rel}\0`);
      const names = (await readdir(abs)).sort();
      for (const name of names) await walk(rel ? `${rel}/${name}` : name);
    } else if (info.isFile()) {
      hash.update(`F ${rel} ${info.mode & 0o111 ? 'x' : '-'} ${info.size}\0`);
      hash.update(await readFile(abs));
    }
  };
  await walk('');
  return hash.digest('hex');
}
