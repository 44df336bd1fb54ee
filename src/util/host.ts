import { arch as hostArch } from 'node:os';

const DEBIAN_ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64' };

/** This host's architecture, in Debian's words (amd64, arm64). */
export function hostDebianArch(): string {
  return DEBIAN_ARCH[hostArch()] ?? hostArch();
}
