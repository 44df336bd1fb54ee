/**
 * A system image as a machine one can power on, log into, command, reboot and unplug: what the
 * `test` runner and bakery's own VM tests drive. The disk is a copy-on-write overlay kept across
 * reboots and power cuts (like a real disk); files reach the device as extra read-only disks, so
 * neither network nor ssh is needed to bring a bundle in.
 *
 * When the guest resets (reboot, watchdog, panic), QEMU exits (-no-reboot) and the machine starts
 * it again at once, on the same disk and firmware variables. When QEMU dies for any other reason,
 * whatever the steps wait for fails at once with QEMU's last words.
 */
import { execa } from 'execa';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import type { Architecture } from '../config/schema.js';
import { UserError } from '../errors.js';
import { which } from '../util/which.js';
import type { Accel } from './accel.js';
import { efiFirmware, type VmFirmware } from './firmware.js';
import { prepareVm, startQemu, type VmExit, type VmFiles, type VmOptions, type VmProcess } from './qemu.js';
import { SerialConsole } from './serial.js';

export interface MachineOptions {
  architecture: Architecture;
  image: string;
  /** What boots first; EFI (the grub-efi flow's) when unset. */
  firmware?: VmFirmware;
  stateDir: string;
  memoryMiB?: number;
  cpus?: number;
  /** Virtual disk size; default: the image plus 1 GiB so /data can grow. */
  diskBytes?: number;
  /** Host files the device can copy in (`copyIn`), attached as read-only disks. */
  files?: string[];
  /** Where the serial console is written as it arrives. */
  consoleLog?: string;
  /** KVM or TCG, chosen once for all machines of a run (`chooseAccel`). */
  accel: Accel;
  user?: string;
  password?: string;
}

/** A free TCP port on 127.0.0.1 (asked of the kernel), so that VMs running at once never collide. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export class Machine {
  console?: SerialConsole;
  sshPort = 0;
  private vm?: VmProcess;
  private prepared?: VmFiles;
  /** Guest resets handled by starting QEMU again. */
  resets = 0;
  private log?: WriteStream;
  private sshReady = false;
  private readonly files: string[];

  constructor(private readonly o: MachineOptions) {
    this.files = (o.files ?? []).map((f) => path.resolve(f));
  }

  /** On: a QEMU runs or is being started again after a guest reset. */
  get running(): boolean {
    return this.vm !== undefined;
  }

  private vmOptions(): VmOptions {
    return {
      architecture: this.o.architecture,
      firmware: this.o.firmware ?? efiFirmware(this.o.architecture),
      image: this.o.image,
      stateDir: this.o.stateDir,
      memoryMiB: this.o.memoryMiB ?? 1024,
      cpus: this.o.cpus ?? 2,
      accel: this.o.accel.accel,
      sshPort: this.sshPort,
      restrictNetwork: true,
      diskBytes: this.o.diskBytes,
      extraDrives: this.files.map((file, i) => ({ file, serial: transferSerial(i) })),
    };
  }

  /** Powers on: firmware, boot loader, kernel. Does not wait for anything. */
  async powerOn(): Promise<void> {
    if (this.running) return;
    if (!this.prepared) {
      await mkdir(this.o.stateDir, { recursive: true });
      this.sshPort = await freePort();
      this.prepared = await prepareVm(this.vmOptions());
      if (this.o.consoleLog) {
        await mkdir(path.dirname(this.o.consoleLog), { recursive: true });
        this.log = createWriteStream(this.o.consoleLog, { flags: 'a' });
      }
      this.console = new SerialConsole((text) => this.log?.write(text));
    }
    this.log?.write(`\n===== power on ${new Date().toISOString()} (${this.o.accel.accel}) =====\n`);
    // A login prompt left from before a power cut must not be taken for this boot's.
    this.console!.discard();
    this.start();
  }

  private start(): void {
    const vm = startQemu(this.vmOptions(), this.prepared!, { stdin: 'pipe', echo: false });
    this.vm = vm;
    this.sshReady = false;
    this.console!.attach(vm.child.stdout!, vm.child.stdin!);
    vm.child.stdin!.on('error', () => undefined); // writes after a power cut
    void vm.exited.then((exit) => this.exited(vm, exit));
  }

  /** QEMU ended by itself (a power cut or stop sets `vm` aside first, so those never get here). */
  private exited(vm: VmProcess, exit: VmExit): void {
    if (vm !== this.vm) return;
    if (exit.kind === 'reset') {
      this.resets++;
      this.log?.write(`\n===== guest reset ${new Date().toISOString()}: QEMU started again (same disk) =====\n`);
      this.start();
      return;
    }
    this.vm = undefined;
    const message = exit.kind === 'poweroff' ? 'the machine powered itself off' : `the machine died: ${exit.reason}`;
    this.log?.write(`\n===== ${message} ${new Date().toISOString()} =====\n`);
    this.console?.fail(new UserError(message));
  }

  /** Powers on if off, then logs in on the serial console. */
  async boot(timeoutMs: number): Promise<void> {
    await this.powerOn();
    await this.login(timeoutMs);
  }

  async login(timeoutMs: number): Promise<void> {
    this.sshReady = false;
    await this.serial().login(this.o.user ?? 'root', this.o.password ?? 'bakery', timeoutMs);
  }

  /** Reboots from inside; with `waitLogin`, waits for the next login prompt and logs in. */
  async reboot(waitLogin: boolean, timeoutMs: number): Promise<void> {
    this.serial().write('systemctl reboot\n');
    this.sshReady = false;
    if (waitLogin) await this.login(timeoutMs);
  }

  /** Like pulling the plug: QEMU is killed, nothing is flushed or shut down. */
  async powerCut(): Promise<void> {
    const vm = this.vm;
    this.vm = undefined;
    if (!vm) return;
    this.log?.write(`\n===== power cut ${new Date().toISOString()} =====\n`);
    await vm.stop();
  }

  async waitFor(pattern: RegExp, timeoutMs: number): Promise<string> {
    return (await this.serial().waitFor(pattern, timeoutMs, `/${pattern.source}/ on the console`))[0];
  }

  /** A command in the logged-in serial shell. */
  async run(command: string, timeoutMs: number): Promise<{ code: number; output: string }> {
    return this.serial().run(command, timeoutMs);
  }

  /** A command over ssh (127.0.0.1, a per-machine key authorized through the console). */
  async ssh(command: string, timeoutMs: number): Promise<{ code: number; output: string }> {
    const key = path.join(this.o.stateDir, 'ssh-key');
    if (!this.sshReady) {
      if (!(await which('ssh')) || !(await which('ssh-keygen'))) throw new UserError('ssh steps need ssh and ssh-keygen on this host', 'apt-get install openssh-client');
      await stat(key).catch(() => execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'bakery-test', '-f', key]));
      const pub = (await readFile(`${key}.pub`, 'utf8')).trim();
      const r = await this.run(`mkdir -p /root/.ssh && chmod 700 /root/.ssh && printf '%s\\n' '${pub}' >> /root/.ssh/authorized_keys`, 30_000);
      if (r.code !== 0) throw new UserError(`could not authorize the test key on the device: ${r.output}`);
      this.sshReady = true;
    }
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await execa('ssh', [
        '-i', key, '-p', String(this.sshPort), '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null',
        '-o', 'LogLevel=ERROR', '-o', 'ConnectTimeout=10', 'root@127.0.0.1', command,
      ], { reject: false, all: true, timeout: Math.max(1000, deadline - Date.now()) });
      // 255: ssh itself failed (sshd not up yet); try again until the deadline.
      if (r.exitCode !== 255 || Date.now() > deadline - 3000) {
        if (r.timedOut) throw new UserError(`timed out after ${Math.round(timeoutMs / 1000)} s running "${command}" over ssh`);
        return { code: r.exitCode ?? 255, output: (r.all ?? '').replace(/\n$/, '') };
      }
      await new Promise((res) => setTimeout(res, 2000));
    }
  }

  /** Copies an attached host file to `dest` on the device (from its read-only disk). */
  async copyIn(hostFile: string, dest: string, timeoutMs: number): Promise<void> {
    const index = this.files.indexOf(path.resolve(hostFile));
    if (index < 0) throw new Error(`${hostFile} was not attached to the machine`);
    const size = (await stat(hostFile)).size;
    const disk = `/dev/disk/by-id/virtio-${transferSerial(index)}`;
    const r = await this.run(`mkdir -p "$(dirname '${dest}')" && head -c ${size} ${disk} > '${dest}.part' && [ "$(stat -c %s '${dest}.part')" = ${size} ] && mv '${dest}.part' '${dest}' && sync`, timeoutMs);
    if (r.code !== 0) throw new UserError(`copying ${path.basename(hostFile)} to ${dest} on the device failed: ${r.output || `exit code ${r.code}`}`);
  }

  async stop(): Promise<void> {
    await this.powerCut();
    await new Promise<void>((res) => (this.log ? this.log.end(res) : res()));
    this.log = undefined;
  }

  /** Stops and removes the overlay and state. */
  async dispose(): Promise<void> {
    await this.stop();
    await rm(this.o.stateDir, { recursive: true, force: true });
  }

  private serial(): SerialConsole {
    if (!this.console || !this.running) throw this.console?.failure ?? new UserError('the machine is off (power it on with a `boot` step)');
    return this.console;
  }
}

/** The disk serial of the n-th attached file: /dev/disk/by-id/virtio-<serial> in the guest. */
function transferSerial(index: number): string {
  return `bakery-file${index}`;
}
