/**
 * Use case: run test workflows — build every image and bundle they need first, then boot up to
 * `jobs` machines side by side, each with its own ports, overlay disk and firmware variables.
 */
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Architecture } from '../config/schema.js';
import { findSystem } from '../engine/system.js';
import { UsageError } from '../errors.js';
import { junitXml } from '../testing/junit.js';
import { failedRun, WorkflowRun, type RunResult, type StepResult } from '../testing/runner.js';
import { installsOf, loadWorkflows, type Workflow } from '../testing/workflow.js';
import { onCleanup } from '../util/cleanup.js';
import { chooseAccel, type Accel, type AccelChoice } from '../vm/accel.js';
import type { VmFirmware } from '../vm/firmware.js';
import { Machine } from '../vm/machine.js';
import { buildSystemBundle } from './bundle.js';
import { bootFlowOf, canEmulate, emulatedTargets } from '../targets/registry.js';
import { buildImage } from './image.js';
import { buildDir, type BuildSession } from './session.js';

export interface TestOptions {
  /** Systems to test; none: the systems each workflow lists. */
  systems: string[];
  /** Workflow names; none: all of tests/. */
  workflows: string[];
  jobs: number;
  /** Also write the JUnit report here (absolute path). */
  junit?: string;
  compress: boolean;
  /** Keep each machine's disk overlay and firmware variables. */
  keep: boolean;
  accel: AccelChoice;
}

export interface TestRunSummary {
  passed: boolean;
  runDir: string;
  junit: string;
  accel: Record<string, string>;
  runs: RunResult[];
}

export async function runTests(session: BuildSession, options: TestOptions): Promise<TestRunSummary> {
  const { project } = session;
  const workflowDir = path.join(project.dir, 'tests');
  const all = await loadWorkflows(workflowDir, new Set(project.systems.keys()));
  if (all.length === 0) throw new UsageError(`no test workflows in ${workflowDir}`, 'write tests/<name>.toml (see the README, "Testing systems")');
  // `--workflow NAME` runs it on every system it applies to; `NAME@SYSTEM` only on that one.
  const only = new Map<string, Set<string> | 'all'>();
  for (const selector of options.workflows) {
    const [name, system] = selector.split('@') as [string, string | undefined];
    if (!all.some((w) => w.name === name)) throw new UsageError(`unknown workflow "${name}"; workflows: ${all.map((w) => w.name).join(', ')}`);
    if (system === undefined) only.set(name, 'all');
    else if (only.get(name) !== 'all') only.set(name, new Set([...((only.get(name) as Set<string> | undefined) ?? []), system]));
  }
  const workflows = options.workflows.length ? all.filter((w) => only.has(w.name)) : all;
  const requested = options.systems;
  for (const s of requested) findSystem(project, s);
  // Which workflow runs on which system: the systems given, narrowed to those a workflow names.
  const pairs: { workflow: Workflow; system: string }[] = [];
  for (const workflow of workflows) {
    const chosen = only.get(workflow.name);
    for (const system of chosen instanceof Set ? chosen : []) {
      findSystem(project, system);
      if (workflow.systems && !workflow.systems.includes(system)) throw new UsageError(`workflow "${workflow.name}" does not run on ${system}; its systems: ${workflow.systems.join(', ')}`);
      if (requested.length && !requested.includes(system)) throw new UsageError(`--workflow ${workflow.name}@${system}: ${system} is not among the systems to test (${requested.join(', ')})`);
    }
    const candidates = requested.length ? requested.filter((s) => !workflow.systems || workflow.systems.includes(s)) : (workflow.systems ?? [...(chosen instanceof Set ? chosen : [])]);
    const systems = chosen instanceof Set ? candidates.filter((s) => chosen.has(s)) : candidates;
    for (const system of systems) pairs.push({ workflow, system });
  }
  if (pairs.length === 0) {
    throw new UsageError(requested.length ? `no workflow applies to ${requested.join(', ')}` : 'name the systems to test (or list `systems` in the workflows)');
  }
  for (const { workflow, system } of pairs) {
    const unresolved = installsOf(workflow, system).find((s) => !project.systems.has(s));
    if (unresolved) throw new UsageError(`${workflow.file}: on system ${system}, \`install = "${unresolved}"\` names no system`, `give it under [variables.${system}] in the workflow`);
    const { target } = findSystem(project, system);
    if (!canEmulate(target)) throw new UsageError(`system ${system}: target "${target.name}" cannot run in QEMU; \`test\` runs systems of targets QEMU can emulate (${emulatedTargets(project).join(', ')})`);
  }

  // Everything is built before the first VM starts: images of the systems under test, bundles
  // of the systems the workflows install.
  const images = new Map<string, { image: string; size: number; architecture: Architecture; firmware: VmFirmware }>();
  const bundles = new Map<string, string>();
  for (const system of new Set(pairs.map((p) => p.system))) {
    const built = await buildImage(session, system);
    const { system: config, target } = findSystem(project, system);
    images.set(system, { image: built.outputs.image, size: built.layout.size, architecture: config.architecture, firmware: bootFlowOf(target).vm!.firmware(config.architecture) });
  }
  for (const system of new Set(pairs.flatMap((p) => installsOf(p.workflow, p.system)))) {
    const built = await buildSystemBundle(session, system, { compress: options.compress });
    bundles.set(system, built.bundle);
  }

  // KVM is probed once per architecture; every machine of the run gets the same answer.
  const accels = new Map<string, Accel>();
  for (const { architecture } of images.values()) {
    if (accels.has(architecture)) continue;
    const accel = await chooseAccel(architecture, options.accel);
    accels.set(architecture, accel);
    session.note(`${architecture} VMs: ${accel.reason}`);
  }

  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const runDir = path.join(buildDir(project), 'tests', stamp);
  await mkdir(runDir, { recursive: true });
  const results: RunResult[] = new Array(pairs.length);
  const hostPath = (p: string) => path.resolve(project.dir, p);
  const say = session.note;

  const runOne = async (index: number) => {
    const { workflow, system } = pairs[index]!;
    const label = `${workflow.name} › ${system}`;
    const logDir = path.join(runDir, `${workflow.name}--${system}`);
    await mkdir(logDir, { recursive: true });
    const built = images.get(system)!;
    // What reaches the device as transfer disks: the bundles it installs, bundle files, copies.
    const files = [
      ...new Set([
        ...installsOf(workflow, system).map((s) => bundles.get(s)!),
        ...workflow.steps.flatMap((s) => (s['install-file'] ? [hostPath(s['install-file'])] : s.copy ? [hostPath(s.copy)] : [])),
      ]),
    ];
    const machine = new Machine({
      architecture: built.architecture,
      firmware: built.firmware,
      image: built.image,
      stateDir: path.join(logDir, 'vm'),
      memoryMiB: workflow.memory,
      cpus: workflow.cpus,
      diskBytes: built.size + 2 ** 30,
      files,
      consoleLog: path.join(logDir, 'console.log'),
      accel: accels.get(built.architecture)!,
    });
    onCleanup(() => machine.dispose());
    say(`${label}: started (logs: ${path.relative(process.cwd(), logDir) || logDir})`);
    try {
      const missing = files.find((f) => !existsSync(f));
      if (missing) throw new UsageError(`${workflow.file}: ${missing} does not exist`);
      const onStep = (r: StepResult) => say(`${label}: ${r.status === 'passed' ? '✔' : '✖'} ${r.name} (${r.seconds.toFixed(1)} s)${r.message ? ` — ${r.message}` : ''}`);
      results[index] = await new WorkflowRun({ machine, bundles, hostPath, logDir }).run(workflow, system, onStep);
    } catch (err) {
      results[index] = failedRun(workflow, system, err, logDir);
    } finally {
      await machine.stop();
      if (!options.keep) await rm(path.join(logDir, 'vm'), { recursive: true, force: true });
    }
    const r = results[index]!;
    const failed = r.steps.find((s) => s.status === 'failed');
    say(`${label}: ${r.status.toUpperCase()} in ${r.seconds.toFixed(0)} s${failed ? ` at "${failed.name}": ${failed.message}` : ''}`);
  };

  // Up to --jobs machines at once; each has its own ports, overlay and firmware variables. The
  // longest workflows (by step count) start first, so that a long one does not end up running
  // alone at the end while the other machines idle. Results keep the given order.
  const queue = pairs.map((_, i) => i).sort((a, b) => pairs[b]!.workflow.steps.length - pairs[a]!.workflow.steps.length || a - b);
  const worker = async () => {
    for (let index = queue.shift(); index !== undefined; index = queue.shift()) await runOne(index);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.jobs, pairs.length)) }, worker));

  const xml = junitXml(results);
  await writeFile(path.join(runDir, 'junit.xml'), xml);
  if (options.junit) {
    await mkdir(path.dirname(options.junit), { recursive: true });
    await writeFile(`${options.junit}.tmp`, xml);
    await rename(`${options.junit}.tmp`, options.junit);
  }
  return {
    passed: results.every((r) => r.status === 'passed'),
    runDir,
    junit: options.junit ?? path.join(runDir, 'junit.xml'),
    accel: Object.fromEntries([...accels].map(([a, x]) => [a, x.accel])),
    runs: results,
  };
}
