/** The CLI as users run it: prints its URL, serves, and shuts down gracefully on SIGTERM. */

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { CloseCode } from '@peerbench/protocol';
import { describe, expect, it } from 'vitest';
import { isSignalFrom, TestClient } from './helpers.js';

const cliPath = fileURLToPath(new URL('../src/cli.ts', import.meta.url));

describe('cli', () => {
  it('prints its URL, relays, produces blocks into SQLite, and on SIGTERM closes clients with 1001 and exits 0', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'peerbench-cli-'));
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        cliPath,
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        '--data-dir',
        dataDir,
        '--block-interval-ms',
        '200',
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, PEERBENCH_STUN_URLS: 'stun:stun.example.org:3478', PEERBENCH_STATIC_DIR: '' },
      },
    );
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout }).once('line', resolve);
        child.once('exit', (code) => reject(new Error(`cli exited early with ${code}`)));
      });
      const url = /listening on (ws:\/\/\S+)/.exec(line)?.[1];
      expect(url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
      const { client: a, welcome } = await TestClient.joined(url as string, 'cli');
      expect(welcome.iceServers).toEqual([{ urls: ['stun:stun.example.org:3478'] }]);
      const { client: b } = await TestClient.joined(url as string, 'cli');
      a.signal(b.peerId, 'via-cli');
      await b.next(isSignalFrom(a.peerId, 'via-cli'));
      // The ledger is mounted: blocks appear on /ledger/head.
      const httpUrl = (url as string).replace(/^ws:/, 'http:');
      let height = 0;
      for (let i = 0; i < 100 && height < 2; i++) {
        const head = (await (await fetch(`${httpUrl}/ledger/head`)).json()) as { height: number };
        height = head.height;
        if (height < 2) await new Promise((r) => setTimeout(r, 100));
      }
      expect(height).toBeGreaterThanOrEqual(2);
      expect(existsSync(join(dataDir, 'ledger.db'))).toBe(true);
      expect(existsSync(join(dataDir, 'producer.key'))).toBe(true);
      child.kill('SIGTERM');
      expect((await a.closed).code).toBe(CloseCode.goingAway);
      expect((await b.closed).code).toBe(CloseCode.goingAway);
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 30_000);
});
