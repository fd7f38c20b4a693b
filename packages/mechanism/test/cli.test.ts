import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { type CliIo, main, parseFlags } from '../src/cli.js';
import type { Fig4Result, Fig5Result } from '../src/experiment.js';

const pkgDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const tmp = mkdtempSync(join(tmpdir(), 'mechanism-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function run(argv: string[], cwd = tmp): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { stdout: (l) => out.push(l), stderr: (l) => err.push(l), cwd };
  return { code: await main(argv, io), out, err };
}

describe('sim CLI', () => {
  it('fig4 writes JSON with per-ratio statistics and a readable SVG, with progress on stderr', async () => {
    const r = await run([
      'fig4',
      '--n',
      '6',
      '--trials',
      '2',
      '--ratios',
      '1,50',
      '--seed',
      '3',
      '--out',
      'f4',
    ]);
    expect(r.code).toBe(0);
    expect(r.err.some((l) => l.startsWith('fig4 alpha/tau=50 trial 2/2'))).toBe(true);
    const json = JSON.parse(readFileSync(join(tmp, 'f4', 'fig4.json'), 'utf8')) as Fig4Result;
    expect(json.n).toBe(6);
    expect(json.ratios.map((x) => x.alphaOverTau)).toEqual([1, 50]);
    for (const s of json.ratios) {
      expect(s.trials).toHaveLength(2);
      for (const key of ['identityFraction', 'convergedFraction', 'meanSteps'] as const) {
        expect(typeof s[key]).toBe('number');
      }
      expect(s.pearson).toHaveProperty('mean');
      expect(s.spearman).toHaveProperty('std');
      for (const t of s.trials) {
        expect(t.rStar).toHaveLength(6);
        expect(t.ideal).toHaveLength(6);
      }
    }
    // alpha/tau = 1: everyone disconnects, R* is flat and the correlation undefined
    expect(json.ratios[0]!.identityFraction).toBe(1);
    expect(json.ratios[0]!.pearson.mean).toBeNull();
    const svg = readFileSync(join(tmp, 'f4', 'fig4.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('α/τ = 1');
    expect(svg).toContain('α/τ = 50');
    expect(svg).toContain('ideal rank R (eq 2)');
    expect((svg.match(/<circle /g) ?? []).length).toBe(2 * 2 * 6);
    expect(r.out.some((l) => l.includes('wrote'))).toBe(true);
  });

  it('fig5 writes tau and sparsity per step and a two-panel SVG', async () => {
    const r = await run([
      'fig5',
      '--n',
      '6',
      '--target',
      '1',
      '--seed',
      '2',
      '--steps',
      '3000',
      '--out',
      join(tmp, 'f5'),
    ]);
    expect(r.code).toBe(0);
    const json = JSON.parse(readFileSync(join(tmp, 'f5', 'fig5.json'), 'utf8')) as Fig5Result;
    expect(json.points[0]!.tau).toBe(0);
    expect(json.points[json.points.length - 1]!.step).toBe(3000);
    for (const p of json.points) {
      expect(Number.isFinite(p.tau)).toBe(true);
      expect(Number.isFinite(p.sparsity)).toBe(true);
    }
    const svg = readFileSync(join(tmp, 'f5', 'fig5.svg'), 'utf8');
    expect(svg).toContain('sparsity vs target');
    expect(svg).toContain('inflation rate τ');
    expect((svg.match(/<polyline /g) ?? []).length).toBe(2);
  });

  it.each([
    [['fig4', '--bogus', '1'], 'UNKNOWN_FLAG'],
    [['fig4', '--n', '1'], 'BAD_FLAG_VALUE'],
    [['fig4', '--ratios', '1,-5'], 'BAD_FLAG_VALUE'],
    [['fig4', '--ratios', '1,,5'], 'BAD_FLAG_VALUE'],
    [['fig4', '--n'], 'MISSING_VALUE'],
    [['fig4', '--n', '--trials', '2'], 'MISSING_VALUE'],
    [['fig4', '--n', 'abc'], 'BAD_FLAG_VALUE'],
    [['fig4', '--n', '2.5'], 'BAD_FLAG_VALUE'],
    [['fig4', '--trials', '0'], 'BAD_FLAG_VALUE'],
    [['fig4', '--reference', 'maybe'], 'BAD_FLAG_VALUE'],
    [['fig4', 'extra'], 'UNEXPECTED_ARGUMENT'],
    [['fig4', '--n', '4', '--n', '5'], 'DUPLICATE_FLAG'],
    [['fig5', '--target', '-1'], 'BAD_FLAG_VALUE'],
    [['fig5', '--measure', 'eq17', '--target', '2'], 'BAD_FLAG_VALUE'],
    [['fig5', '--ratios', '1'], 'UNKNOWN_FLAG'],
    [['fig6'], 'UNKNOWN_COMMAND'],
    [['fig4', '--world', 'flat'], 'BAD_FLAG_VALUE'],
    [['fig4', '--stop-norm', 'max'], 'BAD_FLAG_VALUE'],
    [['fig4', '--workers', '-1'], 'BAD_FLAG_VALUE'],
    [['fig4', '--workers', '1.5'], 'BAD_FLAG_VALUE'],
    [['fig5', '--workers', '2'], 'UNKNOWN_FLAG'],
  ])('rejects %j with %s and exit code 2, writing nothing', async (argv, code) => {
    const r = await run([...argv, '--out', 'should-not-exist']);
    expect(r.code).toBe(2);
    expect(r.err[0]).toContain(`[${code}]`);
    expect(existsSync(join(tmp, 'should-not-exist'))).toBe(false);
  });

  it('prints usage for help and fails without a command', async () => {
    expect((await run(['help'])).code).toBe(0);
    const r = await run([]);
    expect(r.code).toBe(2);
    expect(r.err.join('\n')).toContain('usage: pnpm sim');
  });

  it('accepts --flag=value and negative-looking numbers only where allowed', () => {
    const flags = parseFlags('fig4', ['--n=8', '--ratios=1,2']);
    expect(flags.get('n')).toBe(8);
    expect(flags.get('ratios')).toEqual([1, 2]);
  });

  it('runs as a process: relative --out resolves against INIT_CWD, bad flags exit non-zero', () => {
    const tsx = join(pkgDir, '..', '..', 'node_modules', '.bin', 'tsx');
    const ok = spawnSync(
      tsx,
      ['src/cli.ts', 'fig5', '--n', '4', '--steps', '200', '--out', 'rel-out', '--quiet'],
      {
        cwd: pkgDir,
        env: { ...process.env, INIT_CWD: tmp },
        encoding: 'utf8',
      },
    );
    expect(ok.status).toBe(0);
    expect(existsSync(join(tmp, 'rel-out', 'fig5.json'))).toBe(true);
    const bad = spawnSync(tsx, ['src/cli.ts', 'fig4', '--n', '1'], { cwd: pkgDir, encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--n must be at least 2');
    // two tsx start-ups: generous timeout for a loaded CI machine
  }, 60_000);
});
