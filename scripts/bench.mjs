#!/usr/bin/env node
// Runs every package's `bench` script in turn. Each one writes its figures as
// JSON under bench-results/ at the repository root (created here).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const dirs = ['packages', 'apps'].flatMap((d) => readdirSync(join(root, d)).map((n) => join(d, n)));
dirs.push('signaling-server');
const only = process.argv.slice(2);
if (only.includes('--help')) {
  console.log(
    'usage: pnpm bench [NAME…]   runs the `bench` script of every package (or those whose name contains NAME)',
  );
  console.log('benchmarks:');
  for (const dir of dirs) {
    const pkgPath = join(root, dir, 'package.json');
    if (!existsSync(pkgPath)) continue;
    const pkg = JSON.parse(readFileSync(pkgPath, 'utf8'));
    if (pkg.scripts?.bench) console.log(`  ${pkg.name}: ${pkg.scripts.bench}`);
  }
  process.exit(0);
}
mkdirSync(join(root, 'bench-results'), { recursive: true });
let failed = 0;
for (const dir of dirs) {
  const pkgPath = join(root, dir, 'package.json');
  if (!existsSync(pkgPath)) continue;
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8'));
  if (!pkg.scripts?.bench) continue;
  if (only.length > 0 && !only.some((o) => pkg.name.includes(o))) continue;
  console.error(`\n== bench ${pkg.name}`);
  const r = spawnSync('pnpm', ['--silent', 'run', 'bench'], {
    cwd: join(root, dir),
    stdio: 'inherit',
    env: { ...process.env, PEERBENCH_BENCH_DIR: join(root, 'bench-results') },
  });
  if (r.status !== 0) {
    failed++;
    console.error(`bench ${pkg.name} failed (exit ${r.status})`);
  }
}
process.exit(failed > 0 ? 1 : 0);
