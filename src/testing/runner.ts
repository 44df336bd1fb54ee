/**
 * Runs one workflow on one system: a Machine driven step by step, each step with its timeout and
 * result. The first failing step fails the run; the steps after it are skipped.
 */
import { appendFile } from 'node:fs/promises';
import path from 'node:path';
import type { Machine } from '../vm/machine.js';
import { actionOf, type Workflow, type WorkflowStep } from './workflow.js';

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

/**
 * Default timeouts (seconds) per action; TCG boots of a Debian image take about a minute, two at
 * once on two cores about two. Boot waits are generous because a waiting step costs nothing when
 * things go wrong: a machine whose QEMU dies fails the step at once (see Machine).
 */
const DEFAULT_TIMEOUT: Record<string, number> = {
  boot: 900, login: 900, reboot: 900, 'wait-for': 900, run: 120, copy: 600, install: 1200, 'install-file': 1200,
  'assert-booted': 120, 'assert-slots': 300, 'power-cut': 600, sleep: 3600,
};

/** Where a bundle is put on the device before installing: /data, as a real update client would. */
const DEVICE_BUNDLE_DIR = '/data/bakery-test';

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

interface SlotStatus {
  booted?: string;
  slots: Record<string, string>;
}

class StepFailure extends Error {
  constructor(message: string, readonly output?: string) {
    super(message);
  }
}

export class WorkflowRun {
  private vars = new Map<string, string>();
  private installed = 0;

  constructor(private readonly ctx: RunContext) {}

  private expand(text: string): string {
    return text.replace(/\{\{([A-Za-z0-9_-]+)\}\}/g, (m, name: string) => {
      const v = this.vars.get(name);
      if (v === undefined) throw new StepFailure(`{{${name}}} was never saved (a run step with save = "${name}" must come first)`);
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
    for (const step of workflow.steps) {
      const name = stepTitle(step);
      if (failed) {
        steps.push({ name, status: 'skipped', seconds: 0 });
        continue;
      }
      const t0 = Date.now();
      await this.log(`step: ${name}`);
      let result: StepResult;
      try {
        const output = await this.step(step, 1000 * (step.timeout ?? DEFAULT_TIMEOUT[actionOf(step)]!));
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

  private async step(step: WorkflowStep, timeoutMs: number): Promise<string | undefined> {
    const m = this.ctx.machine;
    switch (actionOf(step)) {
      case 'boot':
        await m.boot(timeoutMs);
        return;
      case 'login':
        await m.login(timeoutMs);
        return;
      case 'reboot':
        await m.reboot(step['wait-login'] ?? true, timeoutMs);
        return;
      case 'wait-for':
        return m.waitFor(new RegExp(this.expand(step['wait-for']!), 'm'), timeoutMs);
      case 'sleep':
        await new Promise((res) => setTimeout(res, step.sleep! * 1000));
        return;
      case 'power-cut':
        if (step['wait-for']) await m.waitFor(new RegExp(this.expand(step['wait-for']), 'm'), timeoutMs);
        if (step.after) await new Promise((res) => setTimeout(res, step.after! * 1000));
        await m.powerCut();
        return;
      case 'run':
        return this.runCommand(step, timeoutMs);
      case 'copy':
        await m.copyIn(this.ctx.hostPath(step.copy!), step.to!, timeoutMs);
        return;
      case 'install':
      case 'install-file':
        return this.install(step, timeoutMs);
      case 'assert-booted':
        return this.assertBooted(step['assert-booted']!, timeoutMs);
      case 'assert-slots':
        return this.assertSlots(step['assert-slots']!, timeoutMs);
    }
  }

  private async runCommand(step: WorkflowStep, timeoutMs: number): Promise<string> {
    const command = this.expand(step.run!);
    const r = step.via === 'ssh' ? await this.ctx.machine.ssh(command, timeoutMs) : await this.ctx.machine.run(command, timeoutMs);
    const expectCode = step['expect-code'] ?? 0;
    if (r.code !== expectCode) throw new StepFailure(`exit code ${r.code}, expected ${expectCode}`, r.output);
    if (step['expect-output'] !== undefined) {
      const want = this.expand(step['expect-output']);
      if (!r.output.includes(want)) throw new StepFailure(`the output does not contain ${JSON.stringify(want)}`, r.output);
    }
    if (step['expect-match'] !== undefined && !new RegExp(this.expand(step['expect-match']), 'm').test(r.output)) {
      throw new StepFailure(`the output does not match /${step['expect-match']}/`, r.output);
    }
    if (step.save) this.vars.set(step.save, r.output.trim());
    return r.output;
  }

  /** RAUC's view: the booted slot and each slot's boot status, by boot name. */
  private async slotStatus(timeoutMs: number): Promise<SlotStatus> {
    // One line of JSON between markers: console messages may land around it, not inside it.
    // RAUC's warnings go to stderr, shown only when there is no JSON.
    const r = await this.ctx.machine.run(`echo "@@S@@$(rauc status --detailed --output-format=json 2>/run/bakery-rauc-status.err | tr -d '\\n')@@E@@"; cat /run/bakery-rauc-status.err`, timeoutMs);
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

  private async assertBooted(want: string, timeoutMs: number): Promise<string> {
    const cmdline = await this.ctx.machine.run('cat /proc/cmdline', timeoutMs);
    const fromKernel = /\brauc\.slot=(\S+)/.exec(cmdline.output)?.[1];
    if (fromKernel !== want) throw new StepFailure(`booted slot ${fromKernel ?? '(none on the kernel command line)'}, expected ${want}`, cmdline.output);
    const status = await this.slotStatus(timeoutMs);
    if (status.booted !== want) throw new StepFailure(`RAUC says slot ${status.booted} is booted, expected ${want}`, JSON.stringify(status));
    return `booted ${want}`;
  }

  private async assertSlots(want: Record<string, string>, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    // The mark-good service may still be running its checks: poll until the states match.
    for (;;) {
      const status = await this.slotStatus(Math.max(10_000, deadline - Date.now()));
      const wrong = Object.entries(want).filter(([slot, state]) => status.slots[slot] !== state);
      if (wrong.length === 0) return JSON.stringify(status.slots);
      if (Date.now() > deadline) {
        throw new StepFailure(`slot states ${wrong.map(([s, w]) => `${s}: ${status.slots[s] ?? 'missing'} (expected ${w})`).join(', ')}`, JSON.stringify(status));
      }
      await new Promise((res) => setTimeout(res, 5000));
    }
  }

  private async install(step: WorkflowStep, timeoutMs: number): Promise<string> {
    const m = this.ctx.machine;
    const host = step.install !== undefined ? this.ctx.bundles.get(step.install)! : this.ctx.hostPath(step['install-file']!);
    const device = `${DEVICE_BUNDLE_DIR}/${++this.installed}-${path.basename(host)}`;
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
    const before = step.expect === 'refused' ? await this.slotStatus(60_000) : undefined;
    const r = await m.run(`rauc install ${device} 2>&1; code=$?; rm -f ${device}; (exit $code)`, timeoutMs);
    if ((step.expect ?? 'installed') === 'installed') {
      if (r.code !== 0) throw new StepFailure(`rauc install failed (exit code ${r.code})`, r.output);
    } else {
      if (r.code === 0) throw new StepFailure('rauc installed the bundle, expected a refusal', r.output);
      const after = await this.slotStatus(60_000);
      if (JSON.stringify(after) !== JSON.stringify(before)) {
        throw new StepFailure(`the refused install changed the slots: before ${JSON.stringify(before)}, after ${JSON.stringify(after)}`, r.output);
      }
    }
    if (step['expect-output'] !== undefined && !r.output.includes(this.expand(step['expect-output']))) {
      throw new StepFailure(`the install output does not contain ${JSON.stringify(step['expect-output'])}`, r.output);
    }
    return r.output;
  }
}

/** A run that could not even start (build failed, machine would not start) as a failed result. */
export function failedRun(workflow: Workflow, system: string, err: unknown, logDir: string): RunResult {
  const message = err instanceof Error ? err.message : String(err);
  return { workflow: workflow.name, system, status: 'failed', seconds: 0, logDir, steps: [{ name: 'start', status: 'failed', seconds: 0, message }] };
}
