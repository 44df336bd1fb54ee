import { access, constants } from 'node:fs/promises';
import path from 'node:path';

/** The absolute path of a command on PATH, or undefined. */
export async function which(command: string, envPath = process.env.PATH ?? ''): Promise<string | undefined> {
  const dirs = [...envPath.split(path.delimiter), '/usr/sbin', '/sbin'];
  for (const dir of dirs.filter(Boolean)) {
    const candidate = path.join(dir, command);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // keep looking
    }
  }
  return undefined;
}
