/** A VM of a built image for tests: bakery's own Machine (the `test` runner's driver), logged in. */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Architecture } from '../../src/config/schema.js';
import { chooseAccel } from '../../src/vm/accel.js';
import { Machine } from '../../src/vm/machine.js';
import type { SerialConsole } from '../../src/vm/serial.js';

export class TestVm {
  private machine?: Machine;

  constructor(
    private readonly image: string,
    private readonly architecture: Architecture,
    private readonly diskBytes: number,
  ) {}

  get console(): SerialConsole {
    return this.machine!.console!;
  }

  /** Boots (the first time: a fresh overlay of the image) and logs in on the serial console. */
  async boot(): Promise<void> {
    this.machine ??= new Machine({
      architecture: this.architecture,
      image: this.image,
      stateDir: await mkdtemp(path.join(tmpdir(), 'bakery-vm-')),
      diskBytes: this.diskBytes,
      accel: await chooseAccel(this.architecture),
    });
    await this.machine.boot(300_000);
  }

  async sh(command: string, timeoutMs = 60_000): Promise<string> {
    const r = await this.machine!.run(command, timeoutMs);
    if (r.code !== 0) throw new Error(`"${command}" exited with ${r.code}: ${r.output}`);
    return r.output;
  }

  /** Reboots from inside and logs in again (the Machine starts QEMU again on the guest's reset). */
  async reboot(): Promise<void> {
    await this.machine!.reboot(true, 300_000);
  }

  get resets(): number {
    return this.machine?.resets ?? 0;
  }

  async stop(): Promise<void> {
    await this.machine?.dispose();
  }
}
