/**
 * Runs one workflow on one system: a Machine driven step by step (each action's handler is in
 * actions.ts), each step with its timeout and result. The first failing step fails the run; the steps after it are skipped.
 */
import { appendFile } from 'node:fs/promises';
import path from 'node:path';
import type { Machine } from '../vm/machine.js';
import { defaultTimeout, runAction, StepFailure, type StepContext } from './actions.js';
import { actionOf, expandVariables, VARIABLE, type Workflow, type WorkflowStep } from './workflow.js';

export interface StepResult {
  name: string;
  status: 'passed' | 'failed' | 'skipped';
  seconds: number;
  message?: string;
  output?: string;
}

export interface RunResult {
  workflow: string;
  system: string;
  status: 'passed' | 'failed';
  seconds: number;
  steps: StepResult[];
  logDir: string;
}

export interface RunContext {
  machine: Machine;
  /** Host files of bundles: `install = "<system>"` → its built bundle. */
  bundles: Map<string, string>;
  /** Resolves a host path given in the workflow (relative to the project). */
  hostPath: (p: string) => string;
  logDir: string;
}

export function stepTitle(step: WorkflowStep): string {
  if (step.name) return step.name;
  const action = actionOf(step);
  const value = step[action];
  if (value === true) return action;
  if (typeof value === 'object') return `${action} ${Object.entries(value as object).map(([k, v]) => `${k}=${v}`).join(' ')}`;
  return `${action} ${String(value)}`;
}

export class WorkflowRun {
  private vars = new Map<string, string>();
  private readonly steps: StepContext;

  constructor(private readonly ctx: RunContext) {
    this.steps = {
      machine: ctx.machine,
      bundles: ctx.bundles,
      hostPath: ctx.hostPath,
      expand: (text) => this.expand(text),
      save: (name, value) => this.vars.set(name, value),
      installs: 0,
    };
  }

  private expand(text: string): string {
    return text.replace(VARIABLE, (m, name: string) => {
      const v = this.vars.get(name);
      if (v === undefined) throw new StepFailure(`{{${name}}} was never saved (a run step with save = "${name}" must come first) and is no variable of this system`);
      return v;
    });
  }

  private async log(line: string): Promise<void> {
    await appendFile(path.join(this.ctx.logDir, 'steps.log'), `${new Date().toISOString()} ${line}\n`);
  }

  async run(workflow: Workflow, system: string, onStep?: (r: StepResult) => void): Promise<RunResult> {
    const started = Date.now();
    const steps: StepResult[] = [];
    let failed = false;
    // The system's variables, as if saved before the first step; a step's own `save` may shadow one.
    const variables = workflow.variables[system] ?? {};
    for (const [k, v] of Object.entries(variables)) this.vars.set(k, v);
    for (const step of workflow.steps) {
      const name = expandVariables(stepTitle(step), variables);
      if (failed) {
        steps.push({ name, status: 'skipped', seconds: 0 });
        continue;
      }
      const t0 = Date.now();
      await this.log(`step: ${name}`);
      let result: StepResult;
      try {
        const output = await runAction(this.steps, step, 1000 * (step.timeout ?? defaultTimeout(step)));
        result = { name, status: 'passed', seconds: (Date.now() - t0) / 1000, output };
      } catch (err) {
        failed = true;
        const message = err instanceof Error ? err.message : String(err);
        result = { name, status: 'failed', seconds: (Date.now() - t0) / 1000, message, output: err instanceof StepFailure ? err.output : undefined };
      }
      await this.log(`${result.status} (${result.seconds.toFixed(1)} s)${result.message ? `: ${result.message}` : ''}${result.output ? `\n--- output ---\n${result.output}\n--------------` : ''}`);
      steps.push(result);
      onStep?.(result);
    }
    return { workflow: workflow.name, system, status: failed ? 'failed' : 'passed', seconds: (Date.now() - started) / 1000, steps, logDir: this.ctx.logDir };
  }
}

/** A run that could not even start (build failed, machine would not start) as a failed result. */
export function failedRun(workflow: Workflow, system: string, err: unknown, logDir: string): RunResult {
  const message = err instanceof Error ? err.message : String(err);
  return { workflow: workflow.name, system, status: 'failed', seconds: 0, logDir, steps: [{ name: 'start', status: 'failed', seconds: 0, message }] };
}
