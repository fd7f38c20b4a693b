/** Runs scripts/readme-deps.ts over every package of the workspace (see the format there). */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  declaredDependencies,
  dependencyDrift,
  listedDependencies,
  type PackageJson,
  workspacePackageDirs,
} from '../readme-deps.js';

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');

describe('the checker', () => {
  const readme = (table: string) =>
    `# x\n\n## Dependencies\n\n${table}\n\n## Next\n\n| \`ghost\` | dev | x |\n`;
  const header = '| package | kind | why |\n|---|---|---|\n';

  it('reads names and kinds from the table only, several names per row, not from other sections', () => {
    const listed = listedDependencies(
      readme(`${header}| \`ws\` | runtime | a |\n| \`@types/a\`, \`@types/b\` | dev | t |`),
    );
    expect([...listed]).toEqual([
      ['ws', 'runtime'],
      ['@types/a', 'dev'],
      ['@types/b', 'dev'],
    ]);
  });

  it('reports a missing dependency, an extra one and a wrong kind', () => {
    const declared = declaredDependencies({
      dependencies: { ws: '1', valibot: '1' },
      devDependencies: { vite: '1' },
    });
    const listed = listedDependencies(
      readme(`${header}| \`ws\` | dev | a |\n| \`vite\` | dev | b |\n| \`left-pad\` | runtime | c |`),
    );
    expect(dependencyDrift(declared, listed)).toEqual([
      "left-pad is in the README's table but not in package.json",
      "valibot (runtime) is in package.json but not in the README's table",
      'ws is runtime in package.json but dev in the README',
    ]);
  });

  it('refuses a README without the section, a row without a name, an unknown kind, a name listed twice', () => {
    expect(() => listedDependencies('# x\n')).toThrow(expect.objectContaining({ code: 'no-section' }));
    expect(() => listedDependencies(readme(`${header}| ws | runtime | a |`))).toThrow(
      expect.objectContaining({ code: 'bad-row' }),
    );
    expect(() => listedDependencies(readme(`${header}| \`ws\` | prod | a |`))).toThrow(
      expect.objectContaining({ code: 'bad-kind' }),
    );
    expect(() =>
      listedDependencies(readme(`${header}| \`ws\` | runtime | a |\n| \`ws\` | runtime | b |`)),
    ).toThrow(expect.objectContaining({ code: 'listed-twice' }));
  });

  it('an empty table matches a package without dependencies', () => {
    expect(dependencyDrift(declaredDependencies({}), listedDependencies(readme(header)))).toEqual([]);
  });
});

describe('package READMEs name exactly the dependencies of their package.json', () => {
  const dirs = workspacePackageDirs(REPO_ROOT);

  it('finds the workspace packages', () => {
    const names = dirs.map((d) => relative(REPO_ROOT, d) || '.');
    for (const expected of [
      '.',
      'packages/protocol',
      'packages/ledger',
      'signaling-server',
      'apps/web',
      'e2e',
    ])
      expect(names).toContain(expected);
  });

  for (const dir of dirs) {
    const where = relative(REPO_ROOT, dir) || '.';
    it(`${where}/README.md`, () => {
      const readmePath = join(dir, 'README.md');
      expect(existsSync(readmePath), `${where} has no README.md`).toBe(true);
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson;
      const listed = listedDependencies(readFileSync(readmePath, 'utf8'));
      expect(
        dependencyDrift(declaredDependencies(pkg), listed),
        `${where}/README.md "## Dependencies" table (| \`name\` | runtime or dev | why |) vs package.json`,
      ).toEqual([]);
    });
  }
});
