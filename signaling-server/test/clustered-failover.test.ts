/**
 * The producing signaling server is a real CLI process (`cli.ts --nats …`)
 * and dies by SIGKILL: the other instance (in this process) takes the lease
 * once it expired, goes on producing, takes txs, and a page connected to it
 * (RemoteChain, the browser's verification code) follows blocks of both
 * producers without reconnecting. It runs in the main vitest run (only the
 * ledger's own NATS failover test runs apart, in `pnpm test:isolated`), so
 * its waits allow for a loaded machine.
 */
import type { ChildProcess } from 'node:child_process';
import {
  type BlockJson,
  createRegisterTx,
  genesisHash,
  type LedgerTransport,
  RemoteChain,
  replayChain,
  solveRegistrationWork,
} from '@peerbench/ledger';
import { type NatsCluster, startNats } from '@peerbench/ledger/nats-servers';
import { generateIdentity, type Identity } from '@peerbench/protocol';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import {
  type ClusterDir,
  clusterDir,
  getJson,
  type Health,
  type Instance,
  instanceArgs,
  LEASE_TTL_MS,
  spawnCli,
  startInstance,
  wsLedgerTransport,
} from './cluster-helpers.js';
import { TestClient } from './helpers.js';

const WAIT = { timeout: 30_000, interval: 50 };

async function postTx(httpUrl: string, tx: unknown): Promise<unknown> {
  const res = await fetch(`${httpUrl}/ledger/tx`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(tx),
  });
  return res.json();
}

describe('clustered signaling servers: the producing process is SIGKILLed', () => {
  it('the other instance takes over, keeps every acknowledged tx, and its page follows both producers', {
    timeout: 120_000,
  }, async () => {
    const nats: NatsCluster = await startNats({ size: 1 });
    const dir: ClusterDir = await clusterDir(2, 2);
    let child: ChildProcess | undefined;
    let follower: Instance | undefined;
    const clients: TestClient[] = [];
    let remote: RemoteChain | undefined;
    onTestFinished(async () => {
      remote?.stop();
      for (const c of clients) c.ws.terminate();
      if (child && child.exitCode === null && child.signalCode === null) {
        const gone = new Promise((r) => child?.once('exit', r));
        child.kill('SIGKILL');
        await gone;
      }
      await follower?.stop().catch(() => undefined);
      await nats.stop();
      dir.remove();
    });
    const { genesis } = dir;
    const chainHash = genesisHash(genesis);
    const registerTx = async (id: Identity) =>
      createRegisterTx(
        id,
        chainHash,
        await solveRegistrationWork(chainHash, id.publicKey, genesis.registrationWorkBits ?? 0),
      );

    // Instance 0, a CLI process, starts alone and takes the lease.
    const cli = await spawnCli(instanceArgs(dir, 0, nats.urls));
    child = cli.child;
    await vi.waitFor(async () => {
      const h = await getJson<Health>(`${cli.httpUrl}/health`);
      expect(h.ledger).toMatchObject({ role: 'producer', natsConnected: true });
      expect(h.ledger?.height).toBeGreaterThanOrEqual(1);
    }, WAIT);
    // Instance 1 joins and follows.
    follower = await startInstance(instanceArgs(dir, 1, nats.urls));
    const f = follower;
    expect(f.backend.status().role).toBe('follower');

    // A page on instance 1, recording who signed what it verified.
    const { client: page } = await TestClient.joined(f.server.url, 'failover');
    clients.push(page);
    const ws = wsLedgerTransport(page);
    const signers = new Set<string>();
    const transport: LedgerTransport = {
      sendTx: ws.sendTx,
      subscribe: (from, onBlock) =>
        ws.subscribe(from, (b) => {
          const producer = (b as Partial<BlockJson>).producer;
          if (typeof producer === 'string') signers.add(producer);
          onBlock(b);
        }),
    };
    const invalid: string[] = [];
    remote = new RemoteChain({
      transport,
      genesis,
      onInvalidBlock: (e) => invalid.push(`${e.height}: ${e.code}`),
    });
    remote.start();
    const r = remote;

    // A tx acknowledged by the producer process is in the follower's chain.
    const before = await generateIdentity();
    expect(await postTx(cli.httpUrl, await registerTx(before))).toEqual({ ok: true });
    await vi.waitFor(() => expect(r.state().peers).toContain(before.peerId), WAIT);

    // kill -9: no goodbye, the lease is left to expire.
    const heightAtKill = f.backend.status().height;
    const killedAt = Date.now();
    const exited = new Promise((resolve) => child?.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    await vi.waitFor(async () => {
      const h = await getJson<Health>(`${f.server.httpUrl}/health`);
      expect(h.ledger?.role).toBe('producer');
      expect(h.ledger?.height).toBeGreaterThan(heightAtKill + 1);
    }, WAIT);
    const takeoverMs = Date.now() - killedAt;

    // The survivor takes txs and its page verifies blocks of both producers.
    const after = await generateIdentity();
    expect(await postTx(f.server.httpUrl, await registerTx(after))).toEqual({ ok: true });
    await vi.waitFor(() => {
      expect(r.state().peers).toEqual(expect.arrayContaining([before.peerId, after.peerId]));
      expect(r.height).toBeGreaterThan(heightAtKill + 1);
    }, WAIT);
    expect([...signers].sort()).toEqual([...(genesis.producers ?? [])].sort());
    expect(invalid).toEqual([]);
    // The survivor's chain verifies from genesis.
    const blocks: unknown[] = [];
    for (;;) {
      const page = await getJson<{ blocks: unknown[] }>(
        `${f.server.httpUrl}/ledger/blocks?from=${blocks.length + 1}&limit=100`,
      );
      blocks.push(...page.blocks);
      if (page.blocks.length < 100) break;
    }
    const replayed = await replayChain(blocks, genesis);
    expect(replayed.height).toBe(blocks.length);
    console.log(
      `[signaling-failover] survivor produced at height ${heightAtKill + 2}+ ${takeoverMs} ms after SIGKILL (lease TTL ${LEASE_TTL_MS} ms)`,
    );
  });
});
