/** Test workflow files: what is accepted, what is refused with file/line/key, and JUnit output. */
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { ConfigError } from '../../src/errors.js';
import { junitXml } from '../../src/testing/junit.js';
import { stepTitle } from '../../src/testing/runner.js';
import { ACTION_NAMES, ACTIONS, defaultTimeout } from '../../src/testing/actions.js';
import { actionOf, installsOf, loadWorkflows } from '../../src/testing/workflow.js';
import { loadProject } from '../../src/config/project.js';
import { BAKERY_HOME, BUILTIN_DIR } from '../../src/util/paths.js';
import { copyOtaFixture } from '../e2e/ota-setup.js';
import { tempProject } from '../helpers.js';
import { mirrorStep } from '../full/mirror.js';

const SYSTEMS = new Set(['dev', 'dev-v2']);

async function load(toml: string) {
  const dir = await tempProject({ 'tests/flow.toml': toml });
  return loadWorkflows(path.join(dir, 'tests'), SYSTEMS);
}

async function problems(toml: string): Promise<string> {
  try {
    await load(toml);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('the workflow was accepted');
}

describe('the workflows bakery ships and tests with', () => {
  it.each([
    ['the repository', async () => BAKERY_HOME],
    ['the OTA and recovery proof', async () => {
      const dir = await tempProject({});
      await copyOtaFixture(dir);
      return dir;
    }],
  ])('%s: the project and its workflows validate', async (_what, where) => {
    const dir = await where();
    const project = await loadProject(dir, BUILTIN_DIR, {});
    expect(project.problems).toEqual([]);
    const workflows = await loadWorkflows(path.join(dir, 'tests'), new Set(project.systems.keys()));
    expect(workflows.length).toBeGreaterThan(0);
  });
});

describe('workflow files', () => {
  it('reads steps, durations and defaults', async () => {
    const [w] = await load(`
systems = ["dev"]
[[steps]]
boot = true
timeout = "5m"
[[steps]]
run = "cat /etc/os-release"
via = "ssh"
expect-match = "trixie"
save = "os"
[[steps]]
install = "dev-v2"
[[steps]]
power-cut = true
wait-for = "Copying image"
after = "2s"
[[steps]]
assert-slots = { A = "good", B = "bad" }
`);
    expect(w!.name).toBe('flow');
    expect(w!.memory).toBe(1024);
    expect(w!.steps.map(actionOf)).toEqual(['boot', 'run', 'install', 'power-cut', 'assert-slots']);
    expect(w!.steps[0]!.timeout).toBe(300);
    expect(w!.steps[3]!.after).toBe(2);
    expect(w!.steps.map(stepTitle)).toEqual(['boot', 'run cat /etc/os-release', 'install dev-v2', 'power-cut', 'assert-slots A=good B=bad']);
  });

  it('one workflow for several systems: each names its own releases as variables', async () => {
    const [w] = await load(`
systems = ["dev", "dev-v2"]
[variables.dev]
next = "dev-v2"
[variables.dev-v2]
next = "dev"
[[steps]]
install = "{{next}}"
`);
    expect(installsOf(w!, 'dev')).toEqual(['dev-v2']);
    expect(installsOf(w!, 'dev-v2')).toEqual(['dev']);
  });

  it('a directory without workflows gives none', async () => {
    expect(await loadWorkflows('/nonexistent/tests', SYSTEMS)).toEqual([]);
  });

  it.each([
    ['[[steps]]\nboot = true\nrun = "x"', 'line 1, `steps.1`: a step has one action, this one has boot and run'],
    ['[[steps]]\ntimeout = "5m"', 'a step needs one action'],
    ['[[steps]]\nboot = true\nexpect-code = 1', '`steps.1.expect-code`: `expect-code` does not apply to a `boot` step'],
    ['[[steps]]\ncopy = "a.txt"', '`steps.1.to`: a `copy` step needs `to = "/path/on/device"`'],
    ['[[steps]]\nrun = "x"\ntimeout = "soon"', 'a duration: seconds, or a string like "90s", "5m" or "1h", got the string \"soon\"'],
    ['[[steps]]\nwait-for = "(unclosed"', 'a valid regular expression'],
    ['[[steps]]\ninstall = "prod"', '`steps.1.install`: unknown system "prod" (systems: dev, dev-v2)'],
    ['systems = ["staging"]\n[[steps]]\nboot = true', '`systems.1`: unknown system "staging"'],
    ['[[steps]]\nbot = true', 'unknown key `bot`'],
    ['[[steps]]\nassert-slots = { A = "fine" }', 'expected one of "good", "bad"'],
    ['description = "no steps"', '`steps`: missing required key'],
    ['systems = ["dev", "dev-v2"]\n[variables.dev]\nnext = "dev-v2"\n[[steps]]\ninstall = "{{next}}"', '`steps.1.install`: {{next}} is not a variable of system dev-v2 (set it under [variables.dev-v2])'],
    ['systems = ["dev"]\n[variables.dev]\nnext = "prod"\n[[steps]]\ninstall = "{{next}}"', '`steps.1.install`: unknown system "prod" ({{next}} for dev)'],
    ['systems = ["dev"]\n[variables.dev-v2]\nnext = "dev"\n[[steps]]\nboot = true', '`variables.dev-v2`: system "dev-v2" is not one of this workflow\'s systems'],
    ['[[steps]]\ninstall = "{{bad name}}"', 'a system name or a variable like "{{v2}}"'],
  ])('refuses %j', async (toml, expected) => {
    const message = await problems(toml);
    expect(message).toContain('tests/flow.toml');
    expect(message).toContain(expected);
  });
});

describe('the action table', () => {
  it('is where the schema and the runner get actions, options and timeouts', async () => {
    // Every action of the table is a step the schema accepts (with what it requires), and has a default timeout.
    const example: Record<string, string> = {
      boot: 'true', login: 'true', reboot: 'true', 'wait-for': '"login:"', run: '"true"', copy: '"a.txt"\nto = "/tmp/a"', install: '"dev-v2"',
      'install-file': '"b.raucb"', 'assert-booted': '"A"', 'assert-slots': '{ A = "good" }', 'power-cut': 'true', sleep: '"1s"',
    };
    expect(Object.keys(example).sort()).toEqual([...ACTION_NAMES].sort());
    const [w] = await load(ACTION_NAMES.map((a) => `[[steps]]\n${a} = ${example[a]}\n`).join(''));
    expect(w!.steps.map(actionOf)).toEqual(ACTION_NAMES);
    for (const step of w!.steps) expect(defaultTimeout(step)).toBeGreaterThan(0);
    // An option is accepted exactly where the table says it applies.
    for (const a of ACTION_NAMES) {
      const takesVia = (ACTIONS[a].options as string[]).includes('via');
      const toml = `[[steps]]\n${a} = ${example[a]}\nvia = "ssh"\n`;
      if (takesVia) expect((await load(toml))[0]!.steps[0]!.via).toBe('ssh');
      else expect(await problems(toml)).toContain(`\`via\` does not apply to a \`${a}\` step`);
    }
  });
});

describe('JUnit XML', () => {
  it('one suite per run, one case per step, failures and skips with escaped text', () => {
    const xml = junitXml([
      {
        workflow: 'ota', system: 'dev', status: 'failed', seconds: 12.34, logDir: '/tmp/logs',
        steps: [
          { name: 'boot', status: 'passed', seconds: 10 },
          { name: 'run cat <x>', status: 'failed', seconds: 2, message: 'the output does not contain "2.0"', output: 'v1 & \u0007bell' },
          { name: 'reboot', status: 'skipped', seconds: 0 },
        ],
      },
    ]);
    expect(xml).toContain('<testsuites name="bakery test" tests="3" failures="1" skipped="1" time="12.3">');
    expect(xml).toContain('<testsuite name="ota [dev]" tests="3" failures="1" skipped="1" time="12.3">');
    expect(xml).toContain('<testcase classname="ota [dev]" name="02 run cat &lt;x&gt;" time="2.0">');
    expect(xml).toContain('<failure message="the output does not contain &quot;2.0&quot;">v1 &amp; bell</failure>');
    expect(xml).toContain('<skipped/>');
  });
});

describe('the B → A variants of the recovery workflows', () => {
  it('mirror every slot a step names, in text, expectations and assertions', () => {
    const step = { name: 'slot B is being validated', run: 'x', 'expect-match': '^B activating$' };
    expect(mirrorStep(step)).toEqual({ name: 'slot A is being validated', run: 'x', 'expect-match': '^A activating$' });
    expect(mirrorStep({ 'assert-slots': { A: 'good', B: 'bad' } })).toEqual({ 'assert-slots': { B: 'good', A: 'bad' } });
    expect(mirrorStep({ 'wait-for': 'bakery: booting slot A' })).toEqual({ 'wait-for': 'bakery: booting slot B' });
  });
});
