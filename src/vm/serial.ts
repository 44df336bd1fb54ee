/**
 * Driving a VM through its serial console: wait for output, log in, run commands and read their
 * exit code and output. Used by the VM tests and the `test` runner. One console outlives the QEMU
 * processes of a machine (a reboot starts a new one: `attach`); when the machine dies, every wait
 * fails at once with the reason (`fail`) instead of running out its timeout.
 */
import type { Readable, Writable } from 'node:stream';
import { UserError } from '../errors.js';

export class SerialConsole {
  private buffer = '';
  /** Everything the console printed, for logs. */
  transcript = '';
  private waiters = new Set<() => void>();
  private seq = 0;
  private input?: Writable;
  /** Why the machine is gone, until the next `attach`. */
  failure?: Error;

  constructor(private readonly onData?: (text: string) => void) {}

  /** Connects the console of a (new) QEMU process. */
  attach(output: Readable, input: Writable): void {
    this.input = input;
    this.failure = undefined;
    output.on('data', (chunk: Buffer) => {
      // Drop terminal escape sequences systemd and getty print; keep the text.
      const text = chunk.toString('utf8').replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[=>]|\r/g, '');
      this.buffer += text;
      this.transcript += text;
      this.onData?.(text);
      for (const w of [...this.waiters]) w();
    });
  }

  /** Forgets output not yet matched: what a machine printed before a power cut is no prompt of the next boot. */
  discard(): void {
    this.buffer = '';
  }

  /** The machine is gone: pending and later waits fail with this, until the next `attach`. */
  fail(error: Error): void {
    this.failure = error;
    for (const w of [...this.waiters]) w();
  }

  /** Waits until `pattern` appears in the output that arrived since the last match. */
  async waitFor(pattern: RegExp, timeoutMs: number, what = String(pattern)): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      const check = () => {
        const m = this.buffer.match(pattern);
        if (!m) return false;
        this.buffer = this.buffer.slice((m.index ?? 0) + m[0].length);
        return m;
      };
      const first = check();
      if (first) return resolve(first);
      const timer = setTimeout(() => {
        this.waiters.delete(listener);
        reject(new UserError(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}; last console output:\n${this.transcript.slice(-1500)}`));
      }, timeoutMs);
      const listener = () => {
        if (this.failure) {
          clearTimeout(timer);
          this.waiters.delete(listener);
          return reject(this.failure);
        }
        const m = check();
        if (m) {
          clearTimeout(timer);
          this.waiters.delete(listener);
          resolve(m);
        }
      };
      this.waiters.add(listener);
    });
  }

  write(text: string): void {
    if (this.failure) throw this.failure;
    this.input?.write(text);
  }

  /** Waits for the login prompt and logs in; leaves a shell whose prompt is set to a marker. */
  async login(user: string, password: string, timeoutMs: number): Promise<void> {
    await this.waitFor(/login: $/m, timeoutMs, 'the login prompt');
    this.write(`${user}\n`);
    await this.waitFor(/Password: ?$/m, 30_000, 'the password prompt');
    this.write(`${password}\n`);
    await this.waitFor(/[#$] $/m, 60_000, 'a shell prompt');
    // A plain prompt and no echo of our own markers' expansions confusing the matcher.
    this.write("export PS1='$ ' TERM=dumb; stty -echo cols 200\n");
    await this.waitFor(/\$ $/m, 30_000, 'the new prompt');
  }

  /** Runs a shell command; resolves with its exit code and output. */
  async run(command: string, timeoutMs = 60_000): Promise<{ code: number; output: string }> {
    const id = `${Date.now().toString(36)}${++this.seq}`;
    const start = `__BAKERY_${id}_START__`;
    // The markers are printed by the shell, split in the command so that an echo of the command line never matches.
    this.write(`printf '%s\\n' "__BAKERY_${id}""_START__"; ${command}; printf '%s:%s\\n' "__BAKERY_${id}""_END__" "$?"\n`);
    await this.waitFor(new RegExp(`${start}\\n`), timeoutMs, `the start of "${command}"`);
    const m = await this.waitFor(new RegExp(`([\\s\\S]*?)__BAKERY_${id}_END__:(\\d+)\\n`), timeoutMs, `"${command}" to finish`);
    return { output: m[1]!.replace(/\n$/, ''), code: Number(m[2]) };
  }
}
