import { projectProblems } from '../../config/project.js';
import { displayKey, formatDiagnostics } from '../../errors.js';
import { canEmulate, findBootFlow } from '../../targets/registry.js';
import type { CommandRun } from '../command.js';
import { projectFor } from '../context.js';

export async function run({ args, io }: CommandRun<object>) {
  const project = await projectFor(args, io);
  const systems = [...project.systems.values()].map((s) => ({ name: s.name, layer: s.layer, architecture: s.architecture, target: s.target, description: s.description }));
  const layers = [...project.layers.values()].map((l) => ({ name: l.name, origin: l.origin, parent: l.config.parent, description: l.config.description }));
  const recipes = [...project.recipes.values()].map((r) => ({ name: r.name, origin: r.origin, description: r.config.description }));
  const targets = [...project.targets.values()].map((t) => ({
    name: t.name,
    origin: t.origin,
    architectures: t.config.architectures,
    bootFlow: t.config['boot-flow'],
    /** working: its boot flow has a module; draft: the file validates, images cannot be made yet. */
    status: findBootFlow(t) ? 'working' : 'draft',
    emulated: canEmulate(t),
    description: t.config.description,
  }));
  // Broken entries are left out of the lists; what is wrong with them is a warning here, an
  // error only for the commands that use them.
  const problems = projectProblems(project).map(({ owner: _owner, ...d }) => d);
  if (problems.length && !args.json) io.stderr.write(`bakery: warning: ${problems.length} problem${problems.length === 1 ? '' : 's'} (\`bakery check\` lists them; building what they are in fails)\n${formatDiagnostics(problems)}\n`);
  if (!args.json) {
    const section = (title: string, rows: [string, string][]) => {
      io.stdout.write(`${title}\n`);
      const width = Math.max(0, ...rows.map(([n]) => n.length));
      for (const [name, text] of rows) io.stdout.write(`  ${name.padEnd(width)}  ${text}\n`);
      if (rows.length === 0) io.stdout.write('  (none)\n');
    };
    section('systems', systems.map((s) => [s.name, `${s.layer} · ${s.architecture} · ${s.target}${s.description ? ` — ${s.description}` : ''}`]));
    section('layers', layers.map((l) => [l.name, `${l.description ?? ''}${l.parent ? ` (on ${l.parent})` : ''}${l.origin === 'builtin' ? ' [built-in]' : ''}`]));
    section('recipes', recipes.map((r) => [r.name, `${r.description}${r.origin === 'builtin' ? ' [built-in]' : ''}`]));
    section('targets', targets.map((t) => [t.name, `${t.description} (${t.architectures.join(', ')}; ${t.bootFlow}, ${t.status}${t.emulated ? ', runs in QEMU' : ''})${t.origin === 'builtin' ? ' [built-in]' : ''}`]));
  }
  return { systems, layers, recipes, targets, problems: problems.map((d) => ({ ...d, path: undefined, key: d.path ? displayKey(d.path) : undefined })) };
}
