/**
 * The swarm over the transport a browser uses: every participant is a
 * PeerMesh over real WebRTC (@roamhq/wrtc) with a real signaling server on
 * 127.0.0.1. First with the server and ledger embedded by the swarm, then
 * joining an already running server (--server URL) and using its ledger
 * through RemoteChain, with blocks on that server's own clock.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openEmbeddedLedger } from '@peerbench/ledger';
import { createSignalingServer } from '@peerbench/signaling-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/backend.js';
import { main } from '../src/cli.js';
import type { SwarmRecord } from '../src/record.js';

const dirs: string[] = [];
beforeAll(async () => {
  await initBackend();
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function runSwarm(args: string): Promise<SwarmRecord> {
  const dir = mkdtempSync(join(tmpdir(), 'swarm-webrtc-'));
  dirs.push(dir);
  const code = await main(`${args} --quiet --out run`.split(' '), dir);
  expect(code).toBe(0);
  return JSON.parse(readFileSync(join(dir, 'run', 'swarm.json'), 'utf8')) as SwarmRecord;
}

describe('swarm over WebRTC', () => {
  it('embedded server and ledger: 2 peers + 1 noise endpoint train, score and land rows in blocks', async () => {
    const r = await runSwarm(
      '--transport webrtc --peers 2 --adversary noise:1 --steps 8 --block-steps 2 --eval-every 4 --eval-size 50 --shard-sizes 100,200 --seed 2',
    );
    expect(r.transport).toMatch(/^webrtc .*signaling ws:\/\/127\.0\.0\.1:\d+/);
    expect(r.chain).toMatch(/embedded/);
    expect(r.summary.stepsDone).toBe(8);
    expect(r.summary.failedSteps).toBe(0);
    expect(r.summary.nonFiniteLosses).toBe(0);
    // Forwards went out over the data channels (time with a call outstanding).
    expect(r.summary.networkShare).toBeGreaterThan(0);
    expect(r.blocks).toHaveLength(4);
    const last = r.blocks[3]!;
    for (const row of last.W) expect(row.reduce((a, v) => a + v, 0)).toBeCloseTo(1, 6);
    // The honest peers' signed rows left their initial all-self weight.
    for (const i of [0, 1]) expect(last.W[i]![i]!).toBeLessThan(1);
    expect(r.steps.filter((s) => s.B !== undefined).map((s) => s.step)).toEqual([0, 4, 8]);
  }, 120_000);

  it('--server URL: joins that server’s room and follows its ledger (RemoteChain)', async () => {
    const ledger = await openEmbeddedLedger({ blockIntervalMs: 200 });
    const server = createSignalingServer({
      host: '127.0.0.1',
      port: 0,
      ledger: ledger.hook,
      shutdownGraceMs: 0,
    });
    await server.start();
    try {
      const r = await runSwarm(
        `--server ${server.url} --room swarm-test --peers 2 --steps 12 --eval-every 6 --eval-size 50 --shard-sizes 100,200 --seed 2`,
      );
      expect(r.transport).toMatch(/room swarm-test/);
      expect(r.chain).toMatch(/RemoteChain/);
      expect(r.summary.failedSteps).toBe(0);
      // Both participants registered on the server's chain (stake from the faucet)...
      expect(r.blocks.length).toBeGreaterThan(0);
      const last = r.blocks[r.blocks.length - 1]!;
      expect(last.S.every((s) => s > 0)).toBe(true);
      // ...and blocks came in the server's order, one record per head.
      const heights = r.blocks.map((b) => b.height);
      expect([...heights].sort((a, b) => a - b)).toEqual(heights);
      expect(ledger.producer.height).toBeGreaterThanOrEqual(heights[heights.length - 1]!);
    } finally {
      await server.stop();
      await ledger.stop();
    }
  }, 120_000);
});
