import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { benchEntry, benchUsage } from '../src/bench-entry.js';

const root = mkdtempSync(join(tmpdir(), 'bench-entry-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
mkdirSync(join(root, 'bench'));
writeFileSync(
  join(root, 'package.json'),
  JSON.stringify({
    name: '@demo/pkg',
    scripts: { test: 'vitest run', bench: 'tsx bench/a.ts && tsx bench/b.ts', 'bench:c': 'tsx bench/c.ts' },
  }),
);
const benchFile = (name: string, text: string) => {
  const file = join(root, 'bench', name);
  writeFileSync(file, text);
  return pathToFileURL(file).href;
};

describe('bench entry', () => {
  it('usage: the package script that runs the file, then its leading doc comment without margins', () => {
    const b = benchFile(
      'b.ts',
      '/**\n * Measures B vs A.\n *\n *  1. indented item\n */\nconst x = 1;\n/** later */\n',
    );
    expect(benchUsage(b)).toBe(
      'usage: pnpm --filter @demo/pkg bench\n  Measures B vs A.\n\n   1. indented item',
    );
    const c = benchFile('c.ts', '/** One line. */\n');
    expect(benchUsage(c)).toBe('usage: pnpm --filter @demo/pkg bench:c\n  One line.');
  });

  it('a file no script runs is documented as npx tsx from its package', () => {
    expect(benchUsage(benchFile('d.ts', '// no doc comment\n'))).toBe('usage: npx tsx bench/d.ts\n');
  });

  it('writes indented JSON under $PEERBENCH_BENCH_DIR and returns the path', () => {
    const before = process.env.PEERBENCH_BENCH_DIR;
    const out = join(root, 'results');
    process.env.PEERBENCH_BENCH_DIR = out;
    try {
      const bench = benchEntry(benchFile('c.ts', '/** C. */\n'));
      expect(bench.outDir).toBe(out);
      const path = bench.writeResult('c.json', { ratio: 1.5 });
      expect(path).toBe(join(out, 'c.json'));
      expect(readFileSync(path, 'utf8')).toBe('{\n  "ratio": 1.5\n}\n');
    } finally {
      if (before === undefined) delete process.env.PEERBENCH_BENCH_DIR;
      else process.env.PEERBENCH_BENCH_DIR = before;
    }
  });
});
