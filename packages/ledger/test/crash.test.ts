import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { LightClient } from '../src/index.js';
import { SqliteStore } from '../src/sqlite-store.js';

const here = dirname(fileURLToPath(import.meta.url));
// Run node itself with tsx as a loader (not the tsx CLI, which forks a child that SIGKILL would orphan).
const repoRoot = join(here, '../../..');
const dir = mkdtempSync(join(tmpdir(), 'ledger-crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  child: ChildProcess;
  announced: Array<{ height: number; txs: number }>;
  readyAt: Promise<number>;
  /** Rejects when the child exits (it never should on its own), naming its stderr. */
  exited: Promise<never>;
}

function run(dbPath: string): Run {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(here, 'fixtures/producer-child.ts'), dbPath],
    {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const announced: Array<{ height: number; txs: number }> = [];
  let stderr = '';
  let resolveReady: (h: number) => void = () => {};
  const readyAt = new Promise<number>((r) => {
    resolveReady = r;
  });
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const [kind, a, b] = line.split(' ');
      if (kind === 'ready') resolveReady(Number(a));
      if (kind === 'block') announced.push({ height: Number(a), txs: Number(b) });
    }
  });
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<never>((_, reject) =>
    child.on('exit', (code, signal) => reject(new Error(`child exited ${code ?? signal}: ${stderr}`))),
  );
  exited.catch(() => undefined);
  return {
    child,
    announced,
    readyAt,
    exited,
  };
}

/** Waits until `pred` holds for the child's announcements; fails at once if the child dies first. */
function until(r: Run, pred: () => boolean): Promise<void> {
  return Promise.race([
    r.exited,
    vi.waitFor(() => expect(pred()).toBe(true), { timeout: 30_000, interval: 10 }),
  ]);
}

async function kill9(r: Run): Promise<void> {
  const gone = new Promise((res) => r.child.once('exit', res));
  r.child.kill('SIGKILL');
  await gone;
}

/** Every announced block is stored and the stored chain verifies from genesis. */
async function verifyStore(dbPath: string, announced: Array<{ height: number }>) {
  const store = new SqliteStore(dbPath);
  const head = await store.headHeight();
  const genesis = (await store.loadGenesis())!;
  const client = new LightClient(genesis);
  let txs = 0;
  for (let from = 1; from <= head; from += 200)
    for (const b of await store.blocksFrom(from, 200)) {
      await client.apply(b);
      txs += b.txs.length;
    }
  await store.close();
  const maxAnnounced = Math.max(...announced.map((a) => a.height));
  return { head, maxAnnounced, verifiedHeight: client.height, txs };
}

describe('crash safety (kill -9 of a producer on SQLite under tx load)', () => {
  it('loses no announced block, verifies from genesis, and continues after restart', async () => {
    const db = join(dir, 'chain.db');
    const first = run(db);
    expect(await first.readyAt).toBe(0);
    // Enough blocks that some carry set-weights txs (registration happens in the first blocks).
    await until(
      first,
      () => first.announced.filter((a) => a.txs > 0).length >= 6 && first.announced.length >= 20,
    );
    await kill9(first);
    const a = await verifyStore(db, first.announced);
    expect(a.head).toBeGreaterThanOrEqual(a.maxAnnounced);
    expect(a.verifiedHeight).toBe(a.head);
    expect(a.txs).toBeGreaterThan(12);

    const second = run(db);
    expect(await second.readyAt).toBe(a.head);
    await until(second, () => second.announced.length >= 10);
    await kill9(second);
    expect(second.announced[0]!.height).toBe(a.head + 1);
    const b = await verifyStore(db, second.announced);
    expect(b.head).toBeGreaterThanOrEqual(b.maxAnnounced);
    expect(b.verifiedHeight).toBe(b.head);
    expect(b.txs).toBeGreaterThan(a.txs);
  }, 45_000);
});
