/**
 * The error taxonomy. Library code throws these; only the CLI's top-level catch decides how they
 * are shown and which exit code they give. Anything else that escapes is a bug.
 */

/** Bad input or an unmet precondition the user can fix: message only, exit 1, no stack. */
export class UserError extends Error {
  constructor(
    message: string,
    /** A command to run or a setting to change. */
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'UserError';
  }
}

/** Wrong command-line usage: like a UserError, and the command's help is shown too. */
export class UsageError extends UserError {
  constructor(message: string, hint?: string) {
    super(message, hint);
    this.name = 'UsageError';
  }
}

export interface Diagnostic {
  file: string;
  /** Dotted key path, e.g. `systems.demo.layer`; empty for whole-file problems. */
  path: string;
  message: string;
  line?: number;
  column?: number;
  hint?: string;
  /**
   * What the problem belongs to — `system:<name>`, `layer:<name>`, `recipe:<name>`,
   * `target:<name>` — so that only the commands that use it fail; none: the whole project.
   */
  owner?: string;
}

/** One or more configuration problems, grouped by file in the message. */
export class ConfigError extends UserError {
  constructor(readonly diagnostics: Diagnostic[]) {
    super(formatDiagnostics(diagnostics));
    this.name = 'ConfigError';
  }
}

/**
 * A key path as users read it: list positions count from 1, as in the file (`steps.1` is the
 * first `[[steps]]`). Paths are kept 0-based inside, where they index the parsed document.
 */
export function displayKey(path: string): string {
  return path.split('.').map((part) => (/^\d+$/.test(part) ? String(Number(part) + 1) : part)).join('.');
}

export function formatDiagnostics(diagnostics: Diagnostic[]): string {
  const byFile = new Map<string, Diagnostic[]>();
  for (const d of diagnostics) byFile.set(d.file, [...(byFile.get(d.file) ?? []), d]);
  const out: string[] = [];
  for (const [file, list] of byFile) {
    out.push(`${file}: ${list.length} problem${list.length === 1 ? '' : 's'}`);
    for (const d of list) {
      const where = d.line ? `line ${d.line}${d.column ? `:${d.column}` : ''}` : '';
      const key = d.path ? `\`${displayKey(d.path)}\`` : '';
      const loc = [where, key].filter(Boolean).join(', ');
      out.push(`  - ${loc ? `${loc}: ` : ''}${d.message}${d.hint ? ` (${d.hint})` : ''}`);
    }
  }
  return out.join('\n');
}

/** A build step failed: names where (system › layer › recipe › step) and carries the log tail. */
export class StepError extends UserError {
  constructor(
    readonly where: string[],
    readonly exitCode: number | null,
    readonly logFile: string | undefined,
    readonly logTail: string,
  ) {
    super(
      `${where.join(' › ')} failed${exitCode === null ? '' : ` (exit code ${exitCode})`}` +
        (logFile ? `\nlog: ${logFile}` : '') +
        (logTail ? `\n--- last lines of the log ---\n${logTail}` : ''),
    );
    this.name = 'StepError';
  }
}

/** The run was interrupted (Ctrl-C); cleanup has run. */
export class InterruptedError extends UserError {
  constructor(signal: string) {
    super(`interrupted by ${signal}; partial work was removed`);
    this.name = 'InterruptedError';
  }
}

/** Why the operating system refused a file operation, in words; undefined for codes that are bugs. */
const IO_REASONS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory, a file was expected',
  ENOTDIR: 'a part of the path is not a directory',
  ENOENT: 'does not exist',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'the name is too long',
  EROFS: 'the file system is read-only',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EMFILE: 'too many open files',
  EEXIST: 'exists already',
};

/**
 * A refused file operation (a Node system error with a path) as the user error it is: the path
 * and what is wrong with it. Anything else stays what it was.
 */
export function asIoError(err: unknown): UserError | undefined {
  const e = err as NodeJS.ErrnoException;
  if (!e || typeof e !== 'object' || typeof e.code !== 'string' || typeof e.path !== 'string') return undefined;
  const reason = IO_REASONS[e.code];
  if (!reason) return undefined;
  const hint = e.code === 'EACCES' || e.code === 'EPERM' ? 'check the owner and mode of the path, or run as a user that may use it' : undefined;
  const error = new UserError(`${e.path}: ${reason}${e.syscall ? ` (${e.syscall})` : ''}`, hint);
  error.name = 'IoError';
  return error;
}
