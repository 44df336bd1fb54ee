/**
 * The CLI shell: parses arguments with yargs against the command registry, runs the chosen
 * command, and is the one place that turns errors into messages and exit codes.
 */
import yargs, { type Argv } from 'yargs';
import { asIoError, ConfigError, displayKey, InterruptedError, StepError, UsageError, UserError } from '../errors.js';
import { runAllCleanups } from '../util/cleanup.js';
import { bakeryVersion } from '../util/paths.js';
import { EXIT_CODE, GLOBAL_OPTIONS, type CommandDefinition } from './command.js';
import type { CliIO } from './io.js';
import { COMMANDS, GROUPS } from './registry.js';

interface Chosen {
  def: CommandDefinition;
  args: Record<string, unknown>;
}

function buildParser(argv: string[], io: CliIO, choose: (c: Chosen) => void): Argv {
  const parser = yargs(argv)
    .scriptName('bakery')
    .usage('$0 <command> [options]\n\nBuild A/B embedded Linux images and signed OTA bundles from TOML.')
    .options(GLOBAL_OPTIONS)
    .version(bakeryVersion())
    .help()
    .alias('h', 'help')
    .strict()
    .demandCommand(1, 'name a command')
    .recommendCommands()
    .wrap(Math.min(100, (io.stdout as NodeJS.WriteStream).columns ?? 100))
    .exitProcess(false);

  const groups = new Map<string, CommandDefinition[]>();
  for (const def of COMMANDS) {
    const [head, ...rest] = def.path.split(' ');
    if (rest.length === 0) addCommand(parser, def, def.path, choose);
    else groups.set(head!, [...(groups.get(head!) ?? []), def]);
  }
  for (const [head, defs] of groups) {
    parser.command(head, GROUPS[head] ?? head, (sub) => {
      for (const def of defs) addCommand(sub, def, def.path.split(' ').slice(1).join(' '), choose);
      return sub.demandCommand(1, `name a ${head} command: ${defs.map((d) => d.path.split(' ').slice(1).join(' ')).join(', ')}`);
    });
  }
  return parser;
}

function addCommand(parser: Argv, def: CommandDefinition, name: string, choose: (c: Chosen) => void): void {
  const positionals = Object.entries(def.positionals ?? {});
  const usage = [name, ...positionals.map(([p, spec]) => (spec.demandOption ? `<${p}${spec.array ? '..' : ''}>` : `[${p}${spec.array ? '..' : ''}]`))].join(' ');
  parser.command(
    usage,
    def.describe,
    (y) => {
      for (const [p, spec] of positionals) y.positional(p, spec);
      if (def.options) y.options(def.options);
      for (const [cmd, text] of def.examples ?? []) y.example(cmd, text);
      return y;
    },
    (args) => choose({ def, args: args as Record<string, unknown> }),
  );
}

/** Whether this run asked for machine output: then every outcome is one JSON document on stdout. */
function wantsJson(argv: string[]): boolean {
  let json = false;
  for (const a of argv) {
    if (a === '--json' || a === '--json=true') json = true;
    if (a === '--no-json' || a === '--json=false') json = false;
  }
  return json;
}

/** Runs the CLI; returns the process exit code. Never calls process.exit. */
export async function runCli(argv: string[], io: CliIO): Promise<number> {
  let chosen: Chosen | undefined;
  let helpText = '';
  const debug = argv.includes('--debug');
  const json = wantsJson(argv);
  try {
    refuseShadowedVersion(argv);
    const parser = buildParser(argv, io, (c) => (chosen = c));
    let parseError: Error | undefined;
    await parser.parseAsync(argv, {}, (err, _args, output) => {
      if (err) parseError = err;
      if (output) helpText = output;
    });
    if (parseError) {
      const text = helpText.includes(parseError.message) ? helpText : `${helpText}\n\n${parseError.message}`;
      throw new UsageError(json ? parseError.message : text.trim());
    }
    if (!chosen) {
      // --help or --version: yargs produced the text.
      io.stdout.write(`${helpText}\n`);
      return 0;
    }
    const { run } = await chosen.def.load();
    const result = await run({ args: chosen.args as never, io });
    const code = (result as { [EXIT_CODE]?: number } | undefined)?.[EXIT_CODE] ?? 0;
    if (json) io.stdout.write(`${JSON.stringify({ ok: code === 0, ...(result as object | undefined) }, null, 2)}\n`);
    return code;
  } catch (err) {
    return reportError(err, io, { debug, json });
  } finally {
    const errors = await runAllCleanups();
    for (const e of errors) io.stderr.write(`bakery: cleanup failed: ${String(e)}\n`);
  }
}

/**
 * `--version` is bakery's own everywhere; a command cannot take it over. `bake bundle` used to
 * take the bundle's version that way: say what it is called now instead of printing ours.
 */
function refuseShadowedVersion(argv: string[]): void {
  const words = argv.filter((a) => !a.startsWith('-'));
  const command = words.slice(words.indexOf('bake'), words.indexOf('bake') + 2).join(' ');
  if ((command === 'bake bundle' || command === 'bake release') && argv.some((a) => a === '--version' || a.startsWith('--version='))) {
    throw new UsageError(`${command}: --version prints bakery's version; the bundle's version is --bundle-version`, `bakery ${command} <system> --bundle-version 2.0.1`);
  }
}

/** What kind of failure an error is: the `error.kind` of JSON output, and the exit code. */
function classify(err: unknown): { kind: string; code: number; error: Error } {
  if (err instanceof InterruptedError) return { kind: 'interrupted', code: 130, error: err };
  if (err instanceof UsageError) return { kind: 'usage', code: 2, error: err };
  if (err instanceof ConfigError) return { kind: 'config', code: 1, error: err };
  if (err instanceof StepError) return { kind: 'step', code: 1, error: err };
  if (err instanceof UserError) return { kind: 'user', code: 1, error: err };
  const io = asIoError(err);
  if (io) return { kind: 'io', code: 1, error: io };
  return { kind: 'internal', code: 70, error: err instanceof Error ? err : new Error(String(err)) };
}

function reportError(err: unknown, io: CliIO, options: { debug: boolean; json: boolean }): number {
  const { kind, code, error } = classify(err);
  const hint = error instanceof UserError ? error.hint : undefined;
  if (kind === 'internal') {
    io.stderr.write(`bakery: internal error: ${error.message}\n`);
    io.stderr.write(options.debug ? `${error.stack ?? ''}\n` : 'run again with --debug for the stack trace\n');
    io.stderr.write('This is a bug in bakery; please report it with the command you ran and the output above.\n');
  } else if (kind === 'usage') {
    io.stderr.write(`${error.message}\n${hint ? `hint: ${hint}\n` : ''}`);
  } else if (kind === 'interrupted') {
    io.stderr.write(`bakery: ${error.message}\n`);
  } else {
    io.stderr.write(`${kind === 'config' ? 'bakery: invalid configuration\n' : 'bakery: '}${error.message}\n${hint ? `hint: ${hint}\n` : ''}`);
    if (options.debug && error.stack) io.stderr.write(`${error.stack}\n`);
  }
  if (options.json) {
    const problems = error instanceof ConfigError
      ? error.diagnostics.map((d) => ({ file: d.file, line: d.line, column: d.column, key: d.path ? displayKey(d.path) : undefined, message: d.message, hint: d.hint }))
      : undefined;
    const step = error instanceof StepError ? { where: error.where, exitCode: error.exitCode, log: error.logFile } : undefined;
    io.stdout.write(`${JSON.stringify({ ok: false, error: { kind, exitCode: code, message: error.message, hint, problems, step } }, null, 2)}\n`);
  }
  return code;
}
