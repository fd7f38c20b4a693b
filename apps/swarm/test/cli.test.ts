import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { SwarmRecord } from '../src/record.js';

const appDir = join(import.meta.dirname, '..');
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function runCli(args: string[], onStderr?: (text: string, child: ReturnType<typeof spawn>) => void) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { cwd: appDir });
  let stderr = '';
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    onStderr?.(stderr, child);
  });
  return new Promise<{ code: number | null; stderr: string; stdout: string }>((resolve) =>
    child.on('close', (code) => resolve({ code, stderr, stdout })),
  );
}

describe('swarm CLI process', () => {
  it('exits 2 with a clear message on a bad flag', async () => {
    const r = await runCli(['--peers', 'eight']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--peers: expected an integer');
  }, 30_000);

  it('stops cleanly on SIGINT and still writes what it measured', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'swarm-sigint-'));
    dirs.push(dir);
    let sent = false;
    const r = await runCli(
      ['--peers', '2', '--steps', '100000', '--eval-every', '2', '--eval-size', '50', '--out', dir],
      (text, child) => {
        if (!sent && text.includes('step 4/')) {
          sent = true;
          child.kill('SIGINT');
        }
      },
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('interrupted');
    expect(existsSync(join(dir, 'swarm.json'))).toBe(true);
    const rec = JSON.parse(readFileSync(join(dir, 'swarm.json'), 'utf8')) as SwarmRecord;
    expect(rec.summary.interrupted).toBe(true);
    expect(rec.summary.stepsDone).toBeGreaterThanOrEqual(4);
    expect(rec.summary.stepsDone).toBeLessThan(100000);
    // The backend was chosen by the trial, and its figures are in the record (issue 19).
    expect(rec.backend?.basis).toBe('trial');
    const timed = rec.backend?.attempts.filter((a) => a.trial) ?? [];
    expect(timed.map((a) => a.backend)).toEqual(['wasm', 'cpu']);
    expect(timed.every((a) => a.trial!.stepMs > 0)).toBe(true);
    expect(rec.backend?.chosen).toBe(
      [...timed].sort((a, b) => a.trial!.stepMs - b.trial!.stepMs)[0]!.backend,
    );
  }, 60_000);
});
