/**
 * The built CLI as a process, where only a real process shows the behaviour: output into a pipe
 * whose reader has gone.
 */
import { execa } from 'execa';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempProject } from '../helpers.js';

const CLI = path.resolve(import.meta.dirname, '../../dist/cli/main.js');

describe('the bakery process', () => {
  it('`list | head -1` and `list --json | head -c 10` end quietly: no stack trace, no error', async () => {
    const dir = await tempProject({ 'layers/app.toml': 'parent = "debian-trixie"\nrecipes = ["hostname"]\n' });
    for (const [json, head] of [['', 'head -n 1'], ['--json', 'head -c 10']]) {
      // Rounds of output, so that the reader is gone long before bakery is done writing.
      const script = `set -o pipefail; for i in 1 2 3; do node ${CLI} list ${json} --project ${dir}; done | ${head} >/dev/null; echo "status \${PIPESTATUS[0]}"`;
      const r = await execa('bash', ['-c', script], { reject: false });
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('status 0');
    }
  });

  it('a pipe that closes before the first line: still quiet, exit 0', async () => {
    const dir = await tempProject({});
    const r = await execa('bash', ['-c', `node ${CLI} list --project ${dir} | true; echo "status \${PIPESTATUS[0]}"`], { reject: false });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('status 0');
  });
});
