/**
 * Identifiers derived from the system's name: the same system gets the same disk and filesystem
 * ids on every build (byte-identical images), and two systems never share them.
 */
import { createHash } from 'node:crypto';

function digest(seed: string): Buffer {
  return createHash('sha256').update(`bakery:${seed}`).digest();
}

/** An RFC 4122 version-4-shaped UUID. */
export function uuidFor(seed: string): string {
  const b = digest(seed).subarray(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** 8 hex digits: a FAT volume id or an MBR disk id. */
export function hex32For(seed: string): string {
  return digest(seed).subarray(0, 4).toString('hex');
}
