/**
 * Use case: start a product from a template (`bakery init`). A template is data: a directory of
 * bakery's `templates/` with a `template.toml` (description, the system its README builds first,
 * optionally a template it extends) and the files of a product repository, in whose names and
 * contents `@@name@@` (the product), `@@main@@`, `@@template@@` and `@@version@@` (the bakery
 * version `run-bakery` pins) are replaced. A file `gitignore` becomes `.gitignore`.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { readConfig } from '../config/read-config.js';
import { Name } from '../config/schema.js';
import { ConfigError, UsageError, UserError, type Diagnostic } from '../errors.js';

const TemplateFile = z.strictObject({
  description: z.string().min(1),
  /** The system the product's README builds first (after substitution). */
  main: z.string().min(1),
  /** A template whose files this one starts from; its own files replace those of the same path. */
  extends: Name.optional(),
});

export interface Template {
  name: string;
  description: string;
  dir: string;
  main: string;
  extends?: string;
}

export async function listTemplates(bakeryHome: string): Promise<Template[]> {
  const root = path.join(bakeryHome, 'templates');
  const diagnostics: Diagnostic[] = [];
  const out: Template[] = [];
  for (const name of (await readdir(root)).sort()) {
    const file = path.join(root, name, 'template.toml');
    if (!existsSync(file)) continue;
    const config = await readConfig(file, TemplateFile, diagnostics);
    if (config) out.push({ name, dir: path.join(root, name), ...config });
  }
  if (diagnostics.length) throw new ConfigError(diagnostics);
  return out;
}

export interface InitOptions {
  dir: string;
  template: string;
  /** The product's name; default: the directory's name, made a valid name. */
  name?: string;
  /** Write into a directory that is not empty (files of the template replace those there). */
  force: boolean;
  bakeryHome: string;
  bakeryVersion: string;
}

export interface InitResult {
  dir: string;
  template: string;
  name: string;
  main: string;
  /** Paths written, relative to `dir`. */
  files: string[];
}

export async function initProject(options: InitOptions): Promise<InitResult> {
  const templates = await listTemplates(options.bakeryHome);
  const byName = new Map(templates.map((t) => [t.name, t]));
  const template = byName.get(options.template);
  if (!template) throw new UsageError(`unknown template "${options.template}"; templates: ${templates.map((t) => t.name).join(', ')}`, 'bakery init --list describes them');
  const name = options.name ?? productName(path.basename(path.resolve(options.dir)));
  if (!/^[a-z0-9][a-z0-9._-]*$/.test(name)) {
    throw new UsageError(`--name ${JSON.stringify(name)}: a product name is lowercase letters, digits, ".", "_" and "-", starting with a letter or digit`);
  }
  const dir = path.resolve(options.dir);
  if (existsSync(dir)) {
    if (!(await stat(dir)).isDirectory()) throw new UserError(`${dir} is a file, not a directory`);
    const present = await readdir(dir);
    if (present.length && !options.force) {
      throw new UserError(`${dir} is not empty (${present.slice(0, 5).join(', ')}${present.length > 5 ? ', …' : ''})`, 'init into a new or empty directory, or pass --force to write the template\'s files over what is there');
    }
  }

  // The chain of templates, base first: later files replace earlier ones of the same path.
  const chain: Template[] = [];
  for (let t: Template | undefined = template; t; t = t.extends ? byName.get(t.extends) : undefined) {
    if (chain.includes(t)) throw new UserError(`template ${template.name}: "extends" forms a cycle`);
    chain.unshift(t);
  }
  const values: Record<string, string> = { name, template: template.name, version: options.bakeryVersion };
  values.main = substitute(template.main, values);
  const files = new Map<string, string>();
  for (const t of chain) for (const rel of await filesOf(t.dir)) if (rel !== 'template.toml') files.set(substitute(dotted(rel), values), path.join(t.dir, rel));

  const written: string[] = [];
  for (const [rel, source] of [...files].sort()) {
    const target = path.join(dir, rel);
    await mkdir(path.dirname(target), { recursive: true });
    const mode = (await stat(source)).mode & 0o777;
    // Never a half-written file under its final name.
    await writeFile(`${target}.bakery-init`, substitute(await readFile(source, 'utf8'), values));
    await chmod(`${target}.bakery-init`, mode);
    await rename(`${target}.bakery-init`, target);
    written.push(rel);
  }
  return { dir, template: template.name, name, main: values.main, files: written };
}

/** npm packs no `.gitignore`: templates keep theirs as `gitignore`, written under its real name. */
function dotted(rel: string): string {
  return path.basename(rel) === 'gitignore' ? path.join(path.dirname(rel), '.gitignore') : rel;
}

/** A directory's name as a product name: lowercase, other characters as "-". */
function productName(base: string): string {
  return base.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[^a-z0-9]+/, '');
}

function substitute(text: string, values: Record<string, string>): string {
  return text.replace(/@@([a-z]+)@@/g, (whole, key: string) => values[key] ?? whole);
}

async function filesOf(root: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(path.join(root, rel), { withFileTypes: true })) {
    const child = path.join(rel, entry.name);
    if (entry.isDirectory()) out.push(...(await filesOf(root, child)));
    else out.push(child);
  }
  return out;
}
