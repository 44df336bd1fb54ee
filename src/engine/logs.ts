import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';

/** Numbered log files of one command's steps under build/…/logs/. */
export class LogDir {
  private seq = 0;
  constructor(readonly dir: string) {}

  async open(name: string): Promise<{ file: string; stream: WriteStream; close: () => Promise<void> }> {
    await mkdir(this.dir, { recursive: true });
    const safe = name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 100);
    const file = path.join(this.dir, `${String(++this.seq).padStart(3, '0')}-${safe}.log`);
    const stream = createWriteStream(file);
    const close = () => new Promise<void>((resolve) => stream.end(resolve));
    return { file, stream, close };
  }
}

export async function tailOf(file: string, lines = 25): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
