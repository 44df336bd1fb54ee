import type { Options } from 'yargs';
import type { CliIO } from './io.js';

/** Options every command has; defined once. */
export const GLOBAL_OPTIONS = {
  project: { type: 'string', describe: 'project directory', default: '.' },
  json: { type: 'boolean', describe: 'machine-readable output on stdout', default: false },
  debug: { type: 'boolean', describe: 'show stack traces and tool output', default: false },
} as const satisfies Record<string, Options>;

export interface GlobalArgs {
  project: string;
  json: boolean;
  debug: boolean;
}

/** A command's result may carry its exit code under this key (e.g. `test` with failed runs). */
export const EXIT_CODE = Symbol('exit code');

export interface CommandRun<A> {
  args: A & GlobalArgs;
  io: CliIO;
}

/**
 * One command = one definition: its full path ("cache clean"), positional and named options,
 * and a lazily imported body, so `--help` never loads Docker or the engine.
 */
export interface CommandDefinition {
  path: string;
  describe: string;
  positionals?: Record<string, { describe: string; type: 'string'; array?: boolean; demandOption?: boolean }>;
  options?: Record<string, Options>;
  examples?: [string, string][];
  load: () => Promise<{ run: (run: CommandRun<never>) => Promise<unknown> }>;
}
