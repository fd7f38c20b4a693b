/**
 * cleanUpOnExit in a real child process: the clean-ups run, last registered
 * first, on a normal exit and on SIGINT, SIGTERM and SIGHUP (the process then
 * still ends by that signal); one taken back does not run, and one that
 * throws does not keep the others from running. pidAlive tells a live
 * process from one that has ended.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { pidAlive } from '../src/exit-cleanup.js';

const CHILD = fileURLToPath(new URL('./exit-cleanup-child.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'peerbench-exit-cleanup-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function runChild(
  name: string,
  how: 'exit' | NodeJS.Signals,
): Promise<{ lines: string[]; code: number | null; signal: NodeJS.Signals | null }> {
  const file = join(dir, `${name}.txt`);
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, file, how], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) resolve();
    });
    child.once('exit', () => reject(new Error('the child ended before it was ready')));
  });
  if (how !== 'exit') child.kill(how);
  const { code, signal } = await ended;
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    // no clean-up ran: no file
  }
  return { lines: text.split('\n').filter(Boolean), code, signal };
}

describe('cleanUpOnExit', () => {
  it('runs the clean-ups, last first, on a normal exit', async () => {
    const r = await runChild('exit', 'exit');
    expect(r.lines).toEqual(['last', 'first']);
    expect(r.code).toBe(0);
  }, 30_000);

  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    it(`runs them on ${signal}, and the process still ends by ${signal}`, async () => {
      const r = await runChild(signal, signal);
      expect(r.lines).toEqual(['last', 'first']);
      expect(r.signal).toBe(signal);
    }, 30_000);
  }
});

describe('pidAlive', () => {
  it('is true for a live process and false once it has ended', async () => {
    expect(pidAlive(process.pid)).toBe(true);
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 60000)'], { stdio: 'ignore' });
    const pid = child.pid!;
    expect(pidAlive(pid)).toBe(true);
    const ended = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await ended;
    expect(pidAlive(pid)).toBe(false);
  });
});
