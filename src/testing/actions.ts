/**
 * The actions of test workflow steps, in one table: each action's value, the options it takes,
 * its default timeout and its handler. The workflow schema (workflow.ts) and the runner's
 * dispatch (runner.ts) are derived from it; a new action is one entry here.
 */
import path from 'node:path';
import { z } from 'zod';
import { Duration, Name } from '../config/schema.js';
import type { Machine } from '../vm/machine.js';

const Slot = z.string().regex(/^[A-Za-z0-9_-]+$/, 'a slot boot name like "A" or "B"');
const Regex = z.string().refine((s) => {
  try {
    new RegExp(s, 'm');
    return true;
  } catch {
    return false;
  }
}, 'a valid regular expression');

/** A system's name, or a `{{variable}}` naming one per system under test. */
const SystemRef = z.string().regex(/^([A-Za-z0-9][A-Za-z0-9_.-]*|\{\{[A-Za-z0-9_-]+\}\})$/, 'a system name or a variable like "{{v2}}"');

/** Options a step may carry besides its action; which apply is said per action. */
export const STEP_OPTIONS = {
  /** `reboot`: false returns at once (the next step waits). */
  'wait-login': z.boolean(),
  /** `run`: the serial console (default) or ssh. */
  via: z.enum(['serial', 'ssh']),
  'expect-code': z.number().int().min(0).max(255),
  /** The output must contain this text. */
  'expect-output': z.string(),
  /** The output must match this regular expression. */
  'expect-match': Regex,
  /** Keep the trimmed output as `{{name}}` for later steps. */
  save: Name,
  /** `copy`: where on the device. */
  to: z.string().regex(/^\//, 'an absolute path on the device'),
  /** `install`: what the install must do; a refused install must leave the slots as they were. */
  expect: z.enum(['installed', 'refused']),
  /** `install`: start it and go on at once (a `power-cut` can then interrupt it). */
  background: z.boolean(),
  /** `power-cut`: this long after the previous step (or after `wait-for` matched). */
  after: Duration,
  /** `power-cut`: once the console prints a match. */
  'wait-for': Regex,
} satisfies Record<string, z.ZodType>;
export type StepOption = keyof typeof STEP_OPTIONS;

/** A step as the handlers see it: its action's value and its options, all validated. */
export type Step = { name?: string; timeout?: number } & { [K in StepOption]?: z.output<(typeof STEP_OPTIONS)[K]> } & Record<string, unknown>;

/** What a handler works with: the machine and the run's state. */
export interface StepContext {
  machine: Machine;
  /** Host files of bundles: `install = "<system>"` → its built bundle. */
  bundles: Map<string, string>;
  /** Resolves a host path given in the workflow (relative to the project). */
  hostPath: (p: string) => string;
  /** `{{name}}` → a saved output or a variable of the system under test. */
  expand: (text: string) => string;
  /** Saves an output under a name. */
  save: (name: string, value: string) => void;
  /** How many bundles this run has copied to the device (their file names stay unique). */
  installs: number;
}

export class StepFailure extends Error {
  constructor(
    message: string,
    readonly output?: string,
  ) {
    super(message);
  }
}

interface ActionDefinition<V extends z.ZodType> {
  /** The value of the action key, e.g. `run = "<command>"`. */
  value: V;
  /** What the action does (for the schema's documentation and error hints). */
  describe: string;
  options: StepOption[];
  /** Options the action cannot do without, with an example value for the error message. */
  requires?: Partial<Record<StepOption, string>>;
  /** Problems of a combination of options, as messages by option. */
  check?: (step: Step) => { option: StepOption; message: string }[];
  /** Default timeout in seconds. TCG boots of a Debian image take about a minute, two at once on two cores about two. */
  timeout: number;
  /** Runs the step; the returned text is the step's output in logs and JUnit. */
  run: (ctx: StepContext, value: z.output<V>, step: Step, timeoutMs: number) => Promise<string | undefined | void>;
}

function backgroundHasNoOutcome(step: Step) {
  return step.background && step.expect ? [{ option: 'expect' as const, message: 'a background install has no outcome to expect' }] : [];
}

const action = <V extends z.ZodType>(d: ActionDefinition<V>) => d;
const sleep = (seconds: number) => new Promise<void>((res) => setTimeout(res, seconds * 1000));

/** Where a bundle is put on the device before installing: /data, as a real update client would. */
const DEVICE_BUNDLE_DIR = '/data/bakery-test';

// Boot waits are generous because a waiting step costs nothing when things go wrong: a machine
// whose QEMU dies fails the step at once (see Machine).
export const ACTIONS = {
  boot: action({ value: z.literal(true), describe: 'power on (if off) and log in on the serial console', options: [], timeout: 900, run: (c, _v, _s, t) => c.machine.boot(t) }),
  login: action({ value: z.literal(true), describe: 'wait for a login prompt and log in (after a reboot the system did by itself)', options: [], timeout: 900, run: (c, _v, _s, t) => c.machine.login(t) }),
  reboot: action({ value: z.literal(true), describe: 'reboot from inside', options: ['wait-login'], timeout: 900, run: (c, _v, s, t) => c.machine.reboot(s['wait-login'] ?? true, t) }),
  'wait-for': action({ value: Regex, describe: 'wait until the serial console prints a match of this regular expression', options: [], timeout: 900, run: (c, v, _s, t) => c.machine.waitFor(new RegExp(c.expand(v), 'm'), t) }),
  run: action({ value: z.string().min(1), describe: 'a shell command on the device; `{{name}}` is replaced by a saved output', options: ['via', 'expect-code', 'expect-output', 'expect-match', 'save'], timeout: 120, run: runCommand }),
  copy: action({ value: z.string().min(1), describe: 'a host file (relative to the project) copied to `to` on the device', options: ['to'], requires: { to: '"/path/on/device"' }, timeout: 600, run: (c, v, s, t) => c.machine.copyIn(c.hostPath(v), s.to!, t) }),
  install: action({ value: SystemRef, describe: "build the named system's bundle and install it with RAUC (`{{name}}`: a variable of the system under test)", options: ['expect', 'expect-output', 'background'], check: backgroundHasNoOutcome, timeout: 1200, run: (c, v, s, t) => install(c, c.bundles.get(c.expand(v))!, s, t) }),
  'install-file': action({ value: z.string().min(1), describe: 'install a bundle file (relative to the project) with RAUC', options: ['expect', 'expect-output', 'background'], check: backgroundHasNoOutcome, timeout: 1200, run: (c, v, s, t) => install(c, c.hostPath(v), s, t) }),
  'assert-booted': action({ value: Slot, describe: "the booted slot (RAUC's view and the kernel command line must agree)", options: [], timeout: 120, run: assertBooted }),
  'assert-slots': action({ value: z.record(Slot, z.enum(['good', 'bad'])), describe: 'RAUC\'s boot status of each slot, e.g. `{ A = "good", B = "bad" }`; retried until the timeout', options: [], timeout: 300, run: assertSlots }),
  'power-cut': action({
    value: z.literal(true),
    describe: 'kill the VM like a pulled plug; with `wait-for`, once the console prints it; `after` a delay',
    options: ['wait-for', 'after'],
    timeout: 600,
    run: async (c, _v, s, t) => {
      if (s['wait-for']) await c.machine.waitFor(new RegExp(c.expand(s['wait-for']), 'm'), t);
      if (s.after) await sleep(s.after);
      await c.machine.powerCut();
    },
  }),
  sleep: action({ value: Duration, describe: 'wait this long', options: [], timeout: 3600, run: (_c, v) => sleep(v) }),
};
export type Action = keyof typeof ACTIONS;
export const ACTION_NAMES = Object.keys(ACTIONS) as Action[];

/** The action keys of a step: an action key given as another present action's option is that option (`power-cut` with `wait-for`). */
export function actionsIn(step: Record<string, unknown>): Action[] {
  const present = ACTION_NAMES.filter((a) => step[a] !== undefined);
  return present.filter((a) => !present.some((b) => b !== a && (ACTIONS[b].options as string[]).includes(a)));
}

/** Runs a validated step with its action's handler. */
export async function runAction(ctx: StepContext, step: Step, timeoutMs: number): Promise<string | undefined> {
  const name = actionsIn(step)[0]!;
  const definition = ACTIONS[name] as ActionDefinition<z.ZodType>;
  return (await definition.run(ctx, step[name], step, timeoutMs)) ?? undefined;
}

export function defaultTimeout(step: Step): number {
  return ACTIONS[actionsIn(step)[0]!].timeout;
}

async function runCommand(c: StepContext, command: string, step: Step, timeoutMs: number): Promise<string> {
  const expanded = c.expand(command);
  const r = step.via === 'ssh' ? await c.machine.ssh(expanded, timeoutMs) : await c.machine.run(expanded, timeoutMs);
  const expectCode = step['expect-code'] ?? 0;
  if (r.code !== expectCode) throw new StepFailure(`exit code ${r.code}, expected ${expectCode}`, r.output);
  if (step['expect-output'] !== undefined) {
    const want = c.expand(step['expect-output']);
    if (!r.output.includes(want)) throw new StepFailure(`the output does not contain ${JSON.stringify(want)}`, r.output);
  }
  if (step['expect-match'] !== undefined && !new RegExp(c.expand(step['expect-match']), 'm').test(r.output)) {
    throw new StepFailure(`the output does not match /${step['expect-match']}/`, r.output);
  }
  if (step.save) c.save(step.save, r.output.trim());
  return r.output;
}

interface SlotStatus {
  booted?: string;
  slots: Record<string, string>;
}

/** RAUC's view: the booted slot and each slot's boot status, by boot name. */
async function slotStatus(c: StepContext, timeoutMs: number): Promise<SlotStatus> {
  // One line of JSON between markers: console messages may land around it, not inside it.
  // RAUC's warnings go to stderr, shown only when there is no JSON.
  const r = await c.machine.run(`echo "@@S@@$(rauc status --detailed --output-format=json 2>/run/bakery-rauc-status.err | tr -d '\\n')@@E@@"; cat /run/bakery-rauc-status.err`, timeoutMs);
  const json = /@@S@@(.*)@@E@@/.exec(r.output)?.[1];
  let parsed: { booted?: string; slots?: Record<string, { bootname?: string; boot_status?: string }>[] };
  try {
    parsed = JSON.parse(json ?? '');
  } catch {
    throw new StepFailure('rauc status gave no JSON', r.output);
  }
  const slots: Record<string, string> = {};
  for (const entry of parsed.slots ?? []) {
    for (const slot of Object.values(entry)) if (slot.bootname) slots[slot.bootname] = slot.boot_status ?? 'unknown';
  }
  return { booted: parsed.booted, slots };
}

async function assertBooted(c: StepContext, want: string, _step: Step, timeoutMs: number): Promise<string> {
  const cmdline = await c.machine.run('cat /proc/cmdline', timeoutMs);
  const fromKernel = /\brauc\.slot=(\S+)/.exec(cmdline.output)?.[1];
  if (fromKernel !== want) throw new StepFailure(`booted slot ${fromKernel ?? '(none on the kernel command line)'}, expected ${want}`, cmdline.output);
  const status = await slotStatus(c, timeoutMs);
  if (status.booted !== want) throw new StepFailure(`RAUC says slot ${status.booted} is booted, expected ${want}`, JSON.stringify(status));
  return `booted ${want}`;
}

async function assertSlots(c: StepContext, want: Record<string, string>, _step: Step, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  // The mark-good service may still be running its checks: poll until the states match.
  for (;;) {
    const status = await slotStatus(c, Math.max(10_000, deadline - Date.now()));
    const wrong = Object.entries(want).filter(([slot, state]) => status.slots[slot] !== state);
    if (wrong.length === 0) return JSON.stringify(status.slots);
    if (Date.now() > deadline) {
      throw new StepFailure(`slot states ${wrong.map(([s, w]) => `${s}: ${status.slots[s] ?? 'missing'} (expected ${w})`).join(', ')}`, JSON.stringify(status));
    }
    await sleep(5);
  }
}

async function install(c: StepContext, host: string, step: Step, timeoutMs: number): Promise<string> {
  const m = c.machine;
  const device = `${DEVICE_BUNDLE_DIR}/${++c.installs}-${path.basename(host)}`;
  // Bundles left by an install that a power cut interrupted would fill /data.
  await m.run(`rm -rf ${DEVICE_BUNDLE_DIR}`, 60_000);
  // A device's first boot grows /data from its image size to the disk; a bundle fits only after
  // that (starting the running oneshot waits for it; a system without it has nothing to wait for).
  await m.run('systemctl start bakery-grow-data.service 2>/dev/null; true', timeoutMs);
  await m.copyIn(host, device, timeoutMs);
  if (step.background) {
    m.console!.write(`rauc install ${device}; rm -f ${device}\n`);
    return `started rauc install ${device}`;
  }
  // A refusal must leave RAUC's slot states as they were: compare them once the boot has settled
  // (mark-good, part of startup, may still be confirming the booted slot right after login).
  if (step.expect === 'refused') await m.run('systemctl is-system-running --wait >/dev/null 2>&1; true', timeoutMs);
  const before = step.expect === 'refused' ? await slotStatus(c, 60_000) : undefined;
  const r = await m.run(`rauc install ${device} 2>&1; code=$?; rm -f ${device}; (exit $code)`, timeoutMs);
  if ((step.expect ?? 'installed') === 'installed') {
    if (r.code !== 0) throw new StepFailure(`rauc install failed (exit code ${r.code})`, r.output);
  } else {
    if (r.code === 0) throw new StepFailure('rauc installed the bundle, expected a refusal', r.output);
    const after = await slotStatus(c, 60_000);
    if (JSON.stringify(after) !== JSON.stringify(before)) {
      throw new StepFailure(`the refused install changed the slots: before ${JSON.stringify(before)}, after ${JSON.stringify(after)}`, r.output);
    }
  }
  if (step['expect-output'] !== undefined && !r.output.includes(c.expand(step['expect-output']))) {
    throw new StepFailure(`the install output does not contain ${JSON.stringify(step['expect-output'])}`, r.output);
  }
  return r.output;
}
