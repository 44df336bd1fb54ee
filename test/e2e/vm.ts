/** A VM of a built image for tests: serial console driven, restricted network, own state dir. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Architecture } from '../../src/config/schema.js';
import { prepareVm, startQemu, type VmProcess } from '../../src/vm/qemu.js';
import { SerialConsole } from '../../src/vm/serial.js';

export class TestVm {
  console!: SerialConsole;
  private vm?: VmProcess;
  private files?: { code: string; vars: string; overlay: string };
  private stateDir!: string;

  constructor(
    private readonly image: string,
    private readonly architecture: Architecture,
    private readonly diskBytes: number,
    private readonly sshPort = 2200 + (process.pid % 500),
  ) {}

  /** Boots (the first time: a fresh overlay of the image) and logs in on the serial console. */
  async boot(): Promise<void> {
    if (!this.files) {
      this.stateDir = await mkdtemp(path.join(tmpdir(), 'bakery-vm-'));
      this.files = await prepareVm(this.options());
    }
    this.vm = startQemu(this.options(), this.files, 'pipe');
    this.console = new SerialConsole(this.vm.child.stdout!, this.vm.child.stdin!);
    await this.console.login('root', 'bakery', 300_000);
  }

  private options() {
    return { architecture: this.architecture, image: this.image, stateDir: this.stateDir, memoryMiB: 1024, cpus: 2, sshPort: this.sshPort, restrictNetwork: true, diskBytes: this.diskBytes };
  }

  async sh(command: string, timeoutMs = 60_000): Promise<string> {
    const r = await this.console.run(command, timeoutMs);
    if (r.code !== 0) throw new Error(`"${command}" exited with ${r.code}: ${r.output}`);
    return r.output;
  }

  /** Reboots from inside and logs in again; QEMU restarts the machine itself. */
  async reboot(): Promise<void> {
    this.console.write('systemctl reboot\n');
    await this.console.login('root', 'bakery', 300_000);
  }

  async stop(): Promise<void> {
    await this.vm?.stop();
    if (this.stateDir) await rm(this.stateDir, { recursive: true, force: true });
  }
}
