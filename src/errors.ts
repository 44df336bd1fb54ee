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
}

/** One or more configuration problems, grouped by file in the message. */
export class ConfigError extends UserError {
  constructor(readonly diagnostics: Diagnostic[]) {
    super(formatDiagnostics(diagnostics));
    this.name = 'ConfigError';
  }
}

export function formatDiagnostics(diagnostics: Diagnostic[]): string {
  const byFile = new Map<string, Diagnostic[]>();
  for (const d of diagnostics) byFile.set(d.file, [...(byFile.get(d.file) ?? []), d]);
  const out: string[] = [];
  for (const [file, list] of byFile) {
    out.push(`${file}: ${list.length} problem${list.length === 1 ? '' : 's'}`);
    for (const d of list) {
      const where = d.line ? `line ${d.line}${d.column ? `:${d.column}` : ''}` : '';
      const key = d.path ? `\`${d.path}\`` : '';
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
