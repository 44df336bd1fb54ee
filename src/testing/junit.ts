/** JUnit XML for CI: one test suite per workflow run (workflow × system), one test case per step. */
import type { RunResult } from './runner.js';

function escape(text: string): string {
  // XML 1.0 has no place for most control characters; consoles print them.
  return text
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

export function junitXml(runs: RunResult[]): string {
  const count = (r: RunResult, s: string) => r.steps.filter((x) => x.status === s).length;
  const total = (s: string) => runs.reduce((n, r) => n + count(r, s), 0);
  const tests = runs.reduce((n, r) => n + r.steps.length, 0);
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="bakery test" tests="${tests}" failures="${total('failed')}" skipped="${total('skipped')}" time="${runs.reduce((n, r) => n + r.seconds, 0).toFixed(1)}">`,
  ];
  for (const run of runs) {
    const suite = `${run.workflow} [${run.system}]`;
    lines.push(`  <testsuite name="${escape(suite)}" tests="${run.steps.length}" failures="${count(run, 'failed')}" skipped="${count(run, 'skipped')}" time="${run.seconds.toFixed(1)}">`);
    run.steps.forEach((step, i) => {
      const name = `${String(i + 1).padStart(2, '0')} ${step.name}`;
      lines.push(`    <testcase classname="${escape(suite)}" name="${escape(name)}" time="${step.seconds.toFixed(1)}">`);
      if (step.status === 'failed') lines.push(`      <failure message="${escape(step.message ?? 'failed')}">${escape(step.output ?? '')}</failure>`);
      if (step.status === 'skipped') lines.push('      <skipped/>');
      lines.push('    </testcase>');
    });
    lines.push(`    <system-out>logs: ${escape(run.logDir)}</system-out>`);
    lines.push('  </testsuite>');
  }
  lines.push('</testsuites>');
  return `${lines.join('\n')}\n`;
}
