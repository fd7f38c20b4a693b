/**
 * Every package README is the reference for its package, including why each
 * dependency is there. This keeps its "Dependencies" table and its
 * package.json from drifting: the table must name exactly the package's
 * dependencies (kind `runtime`) and devDependencies (kind `dev`), no more, no
 * fewer. Workspace tools from the root package.json are named in prose below
 * the table, not in it.
 *
 * Table format, in a section headed `## Dependencies`:
 *
 *   | package | kind | why |
 *   |---|---|---|
 *   | `ws` | runtime | ... |
 *   | `@types/react`, `@types/react-dom` | dev | ... |
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export type DependencyKind = 'runtime' | 'dev';

export interface PackageJson {
  name?: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

/** Every folder of the workspace that has a package.json: the root, packages/*, apps/*, signaling-server, e2e. */
export function workspacePackageDirs(root: string): string[] {
  const dirs = [root, join(root, 'signaling-server'), join(root, 'e2e')];
  for (const parent of ['packages', 'apps']) {
    const base = join(root, parent);
    if (!existsSync(base)) continue;
    for (const entry of readdirSync(base, { withFileTypes: true }))
      if (entry.isDirectory()) dirs.push(join(base, entry.name));
  }
  return dirs.filter((d) => existsSync(join(d, 'package.json'))).sort();
}

/** What package.json declares: name → kind. */
export function declaredDependencies(pkg: PackageJson): Map<string, DependencyKind> {
  const out = new Map<string, DependencyKind>();
  for (const name of Object.keys(pkg.dependencies ?? {})) out.set(name, 'runtime');
  for (const name of Object.keys(pkg.optionalDependencies ?? {})) out.set(name, 'runtime');
  for (const name of Object.keys(pkg.peerDependencies ?? {})) out.set(name, 'runtime');
  for (const name of Object.keys(pkg.devDependencies ?? {})) out.set(name, 'dev');
  return out;
}

export class ReadmeDependencyError extends Error {
  constructor(
    readonly code: 'no-section' | 'bad-row' | 'bad-kind' | 'listed-twice',
    message: string,
  ) {
    super(message);
    this.name = 'ReadmeDependencyError';
  }
}

/** The body of the `## Dependencies` section (up to the next `## ` heading), or null. */
export function dependencySection(markdown: string): string | null {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => /^## Dependencies\b/.test(l));
  if (start < 0) return null;
  const rest = lines.slice(start + 1);
  const end = rest.findIndex((l) => /^## /.test(l));
  return (end < 0 ? rest : rest.slice(0, end)).join('\n');
}

/** What the README's Dependencies table lists: name → kind. */
export function listedDependencies(markdown: string): Map<string, DependencyKind> {
  const section = dependencySection(markdown);
  if (section === null) throw new ReadmeDependencyError('no-section', 'no "## Dependencies" section');
  const rows = section
    .split('\n')
    .filter((l) => l.trimStart().startsWith('|'))
    .slice(2); // header and separator
  const out = new Map<string, DependencyKind>();
  for (const row of rows) {
    const cells = row.split('|').map((c) => c.trim());
    // cells[0] is the empty text before the first '|'.
    const names = [...(cells[1] ?? '').matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
    const kind = cells[2];
    if (names.length === 0) throw new ReadmeDependencyError('bad-row', `no \`package\` in row: ${row}`);
    if (kind !== 'runtime' && kind !== 'dev')
      throw new ReadmeDependencyError('bad-kind', `kind must be runtime or dev in row: ${row}`);
    for (const name of names) {
      if (out.has(name)) throw new ReadmeDependencyError('listed-twice', `${name} is listed twice`);
      out.set(name, kind);
    }
  }
  return out;
}

/** Differences between what is declared and what is listed, as readable lines (empty: they match). */
export function dependencyDrift(
  declared: Map<string, DependencyKind>,
  listed: Map<string, DependencyKind>,
): string[] {
  const problems: string[] = [];
  for (const [name, kind] of declared) {
    const said = listed.get(name);
    if (said === undefined)
      problems.push(`${name} (${kind}) is in package.json but not in the README's table`);
    else if (said !== kind) problems.push(`${name} is ${kind} in package.json but ${said} in the README`);
  }
  for (const name of listed.keys())
    if (!declared.has(name)) problems.push(`${name} is in the README's table but not in package.json`);
  return problems.sort();
}
