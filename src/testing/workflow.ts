/**
 * Test workflows: `tests/<name>.toml` in a project, a list of steps run against a booted system
 * in QEMU. Each step is a table with one action key (`boot`, `run`, `install`, …) and options;
 * the actions and their options are defined in actions.ts.
 */
import { readdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { readConfig } from '../config/read-config.js';
import { withLines } from '../config/toml.js';
import { Duration, Name } from '../config/schema.js';
import { ACTION_NAMES, ACTIONS, actionsIn, STEP_OPTIONS, type Action, type Step, type StepOption } from './actions.js';
import { ConfigError, type Diagnostic } from '../errors.js';
import { displayPath } from '../util/paths.js';

const stepShape = {
  /** Shown in logs and JUnit; default: the action and its argument. */
  name: z.string().min(1).optional(),
  /** Seconds or "90s"/"5m"; default depends on the action. */
  timeout: Duration.optional(),
  ...(Object.fromEntries(Object.entries(STEP_OPTIONS).map(([k, v]) => [k, v.optional()])) as { [K in StepOption]: z.ZodOptional<(typeof STEP_OPTIONS)[K]> }),
  ...(Object.fromEntries(ACTION_NAMES.map((a) => [a, ACTIONS[a].value.optional()])) as { [A in Action]: z.ZodOptional<(typeof ACTIONS)[A]['value']> }),
};

/** A step: one action key (`boot`, `run`, `install`, …) and the options that action takes; all derived from the action table. */
export const WorkflowStep = z.strictObject(stepShape).superRefine((step, ctx) => {
  const actions = actionsIn(step);
  if (actions.length !== 1) {
    ctx.addIssue({
      code: 'custom',
      message: actions.length === 0 ? `a step needs one action: ${ACTION_NAMES.join(', ')}` : `a step has one action, this one has ${actions.join(' and ')}`,
    });
    return;
  }
  const action = actions[0]!;
  const definition = ACTIONS[action] as { options: StepOption[]; requires?: Partial<Record<StepOption, string>>; check?: (s: Step) => { option: StepOption; message: string }[] };
  for (const option of Object.keys(STEP_OPTIONS) as StepOption[]) {
    if ((option as string) === action || step[option] === undefined) continue;
    if (!definition.options.includes(option)) ctx.addIssue({ code: 'custom', path: [option], message: `\`${option}\` does not apply to a \`${action}\` step` });
  }
  for (const [option, example] of Object.entries(definition.requires ?? {}) as [StepOption, string][]) {
    if (step[option] === undefined) ctx.addIssue({ code: 'custom', path: [option], message: `a \`${action}\` step needs \`${option} = ${example}\`` });
  }
  for (const problem of definition.check?.(step as Step) ?? []) ctx.addIssue({ code: 'custom', path: [problem.option], message: problem.message });
});
export type WorkflowStep = z.output<typeof WorkflowStep>;

export const WorkflowFile = z.strictObject({
  description: z.string().optional(),
  /** The systems this workflow runs on; default: every system `test` is given. */
  systems: z.array(Name).optional(),
  /**
   * Per system, names its steps use as `{{name}}`: one workflow proves several boot flows when
   * each system names its own releases (`[variables.ota-v1] v2 = "ota-v2"`, `install = "{{v2}}"`).
   */
  variables: z.record(Name, z.record(Name, z.string())).default({}),
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

/** `{{name}}`: a variable of the system under test or a saved output. */
export const VARIABLE = /\{\{([A-Za-z0-9_-]+)\}\}/g;

/** `{{name}}` replaced by the value given; names not given are left as they are. */
export function expandVariables(text: string, vars: Record<string, string>): string {
  return text.replace(VARIABLE, (m, name: string) => vars[name] ?? m);
}

function unknownVariables(text: string, vars: Record<string, string>): string[] {
  return [...text.matchAll(VARIABLE)].map((m) => m[1]!).filter((name) => vars[name] === undefined);
}

/** The systems whose bundles a workflow installs when it runs on `system`. */
export function installsOf(workflow: WorkflowFile, system: string): string[] {
  const vars = workflow.variables[system] ?? {};
  return workflow.steps.flatMap((s) => (s.install ? [expandVariables(s.install, vars)] : []));
}

/** The action of a validated step. */
export function actionOf(step: WorkflowStep): Action {
  return actionsIn(step)[0]!;
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
    for (const system of Object.keys(value.variables)) {
      if (!knownSystems.has(system)) diagnostics.push({ file: displayPath(file), path: `variables.${system}`, message: `unknown system "${system}"`, hint: `systems: ${[...knownSystems].join(', ')}` });
      else if (value.systems && !value.systems.includes(system)) diagnostics.push({ file: displayPath(file), path: `variables.${system}`, message: `system "${system}" is not one of this workflow's systems`, hint: `systems: ${value.systems.join(', ')}` });
    }
    // Each system the workflow names must resolve every install to a known system.
    const systemsToCheck = value.systems ?? (Object.keys(value.variables).length ? Object.keys(value.variables) : [undefined]);
    value.steps.forEach((step, i) => {
      if (step.install === undefined) return;
      for (const system of systemsToCheck) {
        const vars = system === undefined ? {} : (value.variables[system] ?? {});
        const missing = unknownVariables(step.install, vars);
        const at = { file: displayPath(file), path: `steps.${i}.install` };
        if (missing.length) {
          diagnostics.push({ ...at, message: `{{${missing[0]}}} is not a variable of system ${system ?? '(any)'}`, hint: `set it under [variables.${system ?? '<system>'}]` });
          continue;
        }
        const installed = expandVariables(step.install, vars);
        if (!knownSystems.has(installed)) diagnostics.push({ ...at, message: `unknown system "${installed}"${installed === step.install ? '' : ` (${step.install} for ${system})`}`, hint: `systems: ${[...knownSystems].join(', ')}` });
      }
    });
    if (diagnostics.length === before) workflows.push({ ...value, name: entry.replace(/\.toml$/, ''), file });
  }
  if (diagnostics.length) throw new ConfigError(withLines(diagnostics));
  return workflows;
}
