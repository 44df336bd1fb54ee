/**
 * The CLI shell: parses arguments with yargs against the command registry, runs the chosen
 * command, and is the one place that turns errors into messages and exit codes.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import yargs, { type Argv } from 'yargs';
import { ConfigError, InterruptedError, UsageError, UserError } from '../errors.js';
import { runAllCleanups } from '../util/cleanup.js';
import { BAKERY_HOME } from '../util/paths.js';
import { EXIT_CODE, GLOBAL_OPTIONS, type CommandDefinition } from './command.js';
import type { CliIO } from './io.js';
import { COMMANDS, GROUPS } from './registry.js';

export function bakeryVersion(): string {
  return (JSON.parse(readFileSync(path.join(BAKERY_HOME, 'package.json'), 'utf8')) as { version: string }).version;
}

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
      // A command's own --version (bake bundle) replaces bakery's version flag there.
      if (def.options && 'version' in def.options) y.version(false);
      if (def.options) y.options(def.options);
      for (const [cmd, text] of def.examples ?? []) y.example(cmd, text);
      return y;
    },
    (args) => choose({ def, args: args as Record<string, unknown> }),
  );
}

/** Runs the CLI; returns the process exit code. Never calls process.exit. */
export async function runCli(argv: string[], io: CliIO): Promise<number> {
  let chosen: Chosen | undefined;
  let helpText = '';
  const debug = argv.includes('--debug');
  try {
    const parser = buildParser(argv, io, (c) => (chosen = c));
    let parseError: Error | undefined;
    await parser.parseAsync(argv, {}, (err, _args, output) => {
      if (err) parseError = err;
      if (output) helpText = output;
    });
    if (parseError) {
      const text = helpText.includes(parseError.message) ? helpText : `${helpText}\n\n${parseError.message}`;
      throw new UsageError(text.trim());
    }
    if (!chosen) {
      // --help or --version: yargs produced the text.
      io.stdout.write(`${helpText}\n`);
      return 0;
    }
    const { run } = await chosen.def.load();
    const result = await run({ args: chosen.args as never, io });
    const args = chosen.args as { json?: boolean };
    if (args.json && result !== undefined) io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return (result as { [EXIT_CODE]?: number } | undefined)?.[EXIT_CODE] ?? 0;
  } catch (err) {
    return reportError(err, io, debug);
  } finally {
    const errors = await runAllCleanups();
    for (const e of errors) io.stderr.write(`bakery: cleanup failed: ${String(e)}\n`);
  }
}

function reportError(err: unknown, io: CliIO, debug: boolean): number {
  if (err instanceof InterruptedError) {
    io.stderr.write(`bakery: ${err.message}\n`);
    return 130;
  }
  if (err instanceof UsageError) {
    io.stderr.write(`${err.message}\n`);
    return 2;
  }
  if (err instanceof UserError) {
    const header = err instanceof ConfigError ? 'bakery: invalid configuration\n' : 'bakery: ';
    io.stderr.write(`${header}${err.message}\n${err.hint ? `hint: ${err.hint}\n` : ''}`);
    if (debug && err.stack) io.stderr.write(`${err.stack}\n`);
    return 1;
  }
  const e = err as Error;
  io.stderr.write(`bakery: internal error: ${e?.message ?? String(err)}\n`);
  io.stderr.write(debug ? `${e?.stack ?? ''}\n` : 'run again with --debug for the stack trace\n');
  io.stderr.write('This is a bug in bakery; please report it with the command you ran and the output above.\n');
  return 70;
}
