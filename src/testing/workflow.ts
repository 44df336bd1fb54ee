/**
 * Test workflows: `tests/<name>.toml` in a project, a list of steps run against a booted system
 * in QEMU. Each step is a table with one action key (`boot`, `run`, `install`, …) and options.
 */
import { readdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { readConfig } from '../config/read-config.js';
import { Duration, Name } from '../config/schema.js';
import { ConfigError, type Diagnostic } from '../errors.js';
import { displayPath } from '../util/paths.js';

/** The action keys; a step has exactly one. */
export const ACTIONS = ['boot', 'login', 'reboot', 'wait-for', 'run', 'copy', 'install', 'install-file', 'assert-booted', 'assert-slots', 'power-cut', 'sleep'] as const;
export type Action = (typeof ACTIONS)[number];

const Slot = z.string().regex(/^[A-Za-z0-9_-]+$/, 'a slot boot name like "A" or "B"');
const Regex = z.string().refine((s) => {
  try {
    new RegExp(s, 'm');
    return true;
  } catch {
    return false;
  }
}, 'a valid regular expression');

export const WorkflowStep = z
  .strictObject({
    /** Shown in logs and JUnit; default: the action and its argument. */
    name: z.string().min(1).optional(),
    /** Seconds or "90s"/"5m"; default depends on the action. */
    timeout: Duration.optional(),

    /** Power on (if off) and log in on the serial console. */
    boot: z.literal(true).optional(),
    /** Wait for a login prompt and log in (after a reboot the system did by itself). */
    login: z.literal(true).optional(),
    /** Reboot from inside; `wait-login = false` returns at once (the next step waits). */
    reboot: z.literal(true).optional(),
    'wait-login': z.boolean().optional(),
    /** Wait until the serial console prints a match of this regular expression. */
    'wait-for': Regex.optional(),

    /** A shell command on the device; `{{name}}` is replaced by a saved output. */
    run: z.string().min(1).optional(),
    via: z.enum(['serial', 'ssh']).optional(),
    'expect-code': z.number().int().min(0).max(255).optional(),
    /** The output must contain this text. */
    'expect-output': z.string().optional(),
    /** The output must match this regular expression. */
    'expect-match': Regex.optional(),
    /** Keep the trimmed output as `{{name}}` for later steps. */
    save: Name.optional(),

    /** A host file (relative to the project) copied to `to` on the device. */
    copy: z.string().min(1).optional(),
    to: z.string().regex(/^\//, 'an absolute path on the device').optional(),

    /** Build the named system's bundle and install it with RAUC. */
    install: Name.optional(),
    /** Install a bundle file (relative to the project) with RAUC. */
    'install-file': z.string().min(1).optional(),
    /** What the install must do; a refused install must leave the slots as they were. */
    expect: z.enum(['installed', 'refused']).optional(),
    /** Start the install and go on at once (a `power-cut` can then interrupt it). */
    background: z.boolean().optional(),

    /** The booted slot (RAUC's view and the kernel command line must agree). */
    'assert-booted': Slot.optional(),
    /** RAUC's boot status of each slot, e.g. `{ A = "good", B = "bad" }`; retried until the timeout. */
    'assert-slots': z.record(Slot, z.enum(['good', 'bad'])).optional(),

    /** Kill the VM like a pulled plug; with `wait-for`, once the console prints it; `after` a delay. */
    'power-cut': z.literal(true).optional(),
    after: Duration.optional(),

    sleep: Duration.optional(),
  })
  .superRefine((step, ctx) => {
    const actions = ACTIONS.filter((a) => step[a] !== undefined && !(a === 'wait-for' && step['power-cut']));
    if (actions.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message: actions.length === 0 ? `a step needs one action: ${ACTIONS.join(', ')}` : `a step has one action, this one has ${actions.join(' and ')}`,
      });
      return;
    }
    const action = actions[0]!;
    const allowed: Record<Action, string[]> = {
      boot: [],
      login: [],
      reboot: ['wait-login'],
      'wait-for': [],
      run: ['via', 'expect-code', 'expect-output', 'expect-match', 'save'],
      copy: ['to'],
      install: ['expect', 'expect-output', 'background'],
      'install-file': ['expect', 'expect-output', 'background'],
      'assert-booted': [],
      'assert-slots': [],
      'power-cut': ['wait-for', 'after'],
      sleep: [],
    };
    const options = ['wait-login', 'via', 'expect-code', 'expect-output', 'expect-match', 'save', 'to', 'expect', 'background', 'after', 'wait-for'];
    for (const option of options) {
      if (option === action || step[option as keyof typeof step] === undefined) continue;
      if (!allowed[action].includes(option)) ctx.addIssue({ code: 'custom', path: [option], message: `\`${option}\` does not apply to a \`${action}\` step` });
    }
    if (action === 'copy' && step.to === undefined) ctx.addIssue({ code: 'custom', path: ['to'], message: 'a `copy` step needs `to = "/path/on/device"`' });
    if (step.background && step.expect) ctx.addIssue({ code: 'custom', path: ['expect'], message: 'a background install has no outcome to expect' });
  });
export type WorkflowStep = z.output<typeof WorkflowStep>;

export const WorkflowFile = z.strictObject({
  description: z.string().optional(),
  /** The systems this workflow runs on; default: every system `test` is given. */
  systems: z.array(Name).optional(),
  /** VM settings. */
  memory: z.number().int().min(256).default(1024),
  cpus: z.number().int().min(1).default(2),
  steps: z.array(WorkflowStep).min(1, 'a workflow needs at least one step'),
});
export type WorkflowFile = z.output<typeof WorkflowFile>;

export interface Workflow extends WorkflowFile {
  name: string;
  file: string;
}

/** The action of a validated step. */
export function actionOf(step: WorkflowStep): Action {
  return ACTIONS.find((a) => step[a] !== undefined && !(a === 'wait-for' && step['power-cut']))!;
}

/** Every workflow in the directory; all problems reported at once. */
export async function loadWorkflows(dir: string, knownSystems: Set<string>): Promise<Workflow[]> {
  if (!existsSync(dir)) return [];
  const diagnostics: Diagnostic[] = [];
  const workflows: Workflow[] = [];
  for (const entry of (await readdir(dir)).filter((f) => f.endsWith('.toml')).sort()) {
    const file = path.join(dir, entry);
    const before = diagnostics.length;
    const value = await readConfig(file, WorkflowFile, diagnostics);
    if (!value) continue;
    value.systems?.forEach((s, i) => {
      if (!knownSystems.has(s)) diagnostics.push({ file: displayPath(file), path: `systems.${i}`, message: `unknown system "${s}"`, hint: `systems: ${[...knownSystems].join(', ')}` });
    });
    value.steps.forEach((step, i) => {
      if (step.install !== undefined && !knownSystems.has(step.install)) {
        diagnostics.push({ file: displayPath(file), path: `steps.${i}.install`, message: `unknown system "${step.install}"`, hint: `systems: ${[...knownSystems].join(', ')}` });
      }
    });
    if (diagnostics.length === before) workflows.push({ ...value, name: entry.replace(/\.toml$/, ''), file });
  }
  if (diagnostics.length) throw new ConfigError(diagnostics);
  return workflows;
}
