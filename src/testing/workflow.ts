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
