/** The QEMU system emulator and machine model each architecture's VMs use. */
import type { Architecture } from '../config/schema.js';

export const QEMU_BINARY: Record<Architecture, string> = { amd64: 'qemu-system-x86_64', arm64: 'qemu-system-aarch64' };
export const QEMU_PACKAGE: Record<Architecture, string> = { amd64: 'qemu-system-x86', arm64: 'qemu-system-arm' };
export const QEMU_MACHINE: Record<Architecture, string[]> = { amd64: ['-machine', 'q35', '-cpu', 'max'], arm64: ['-machine', 'virt', '-cpu', 'max'] };

/**
 * A watchdog that really resets the VM: q35's built-in iTCO only when the chipset's "no reboot"
 * strap is off (QEMU's default keeps it on, and Linux' iTCO_wdt then refuses the device);
 * QEMU's PCI i6300esb on arm64's virt machine, which has none of its own.
 */
export const QEMU_WATCHDOG: Record<Architecture, string[]> = { amd64: ['-global', 'ICH9-LPC.noreboot=false'], arm64: ['-device', 'i6300esb'] };
