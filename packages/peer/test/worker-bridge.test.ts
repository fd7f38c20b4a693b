/**
 * The worker bridges over real MessageChannels (the same structured cloning
 * and buffer transfer a browser worker gets; both ends in this thread here).
 * The network bridge is checked against the in-memory hub as the "real"
 * main-thread network: calls both ways, error codes, validation, aborts and
 * cleanup; then a real Peer is hosted across a port and trains with a peer
 * on the hub.
 */

import { ExpertError, InMemoryHub, type WireTensor } from '@peerbench/mesh';
import { doubling, x } from '@peerbench/mesh/compliance';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Peer } from '../src/peer.js';
import type { PeerSnapshot } from '../src/state.js';
import { exposeLedgerTransport, PortLedgerTransport } from '../src/worker/ledger-bridge.js';
import { exposeExpertNetwork, PortExpertNetwork } from '../src/worker/network-bridge.js';
import { hostPeer, RemotePeer } from '../src/worker/peer-bridge.js';
import { SMALL_MODEL, skewedTask } from './helpers.js';
import { channel, closeChannels } from './message-channels.js';

afterEach(closeChannels);

const opts = (requestId: string, timeoutMs = 2000) => ({ requestId, timeoutMs });

async function bridged(hub: InMemoryHub, id: string) {
  const { main, worker } = channel();
  const invalid: string[] = [];
  const exposed = exposeExpertNetwork(main, () => hub.join(id), { onInvalid: (r) => invalid.push(r) });
  const net = await PortExpertNetwork.connect(worker, id);
  return { exposed, net, main, worker, invalid };
}

/** One round trip through the main thread (a ping to itself): the port delivers in order, so what was posted before has been handled. */
async function settled(net: PortExpertNetwork): Promise<void> {
  await net.ping(net.selfId).catch(() => undefined);
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (err) {
    return err instanceof ExpertError ? err.code : `not an ExpertError: ${String(err)}`;
  }
}

describe('network bridge', () => {
  it('forwards out of the worker with the request id and carries the gradient back', async () => {
    const hub = new InMemoryHub();
    const b = hub.join('b');
    const log: string[] = [];
    b.serve(doubling(log));
    const { net, exposed } = await bridged(hub, 'a');
    expect(net.peers()).toEqual(['b']);
    const answer = await net.forward('b', x, opts('r1'));
    expect(answer.shape).toEqual([2, 3]);
    expect(Array.from(answer.data)).toEqual(Array.from(x.data).map((v) => Math.fround(2 * v)));
    // The caller's buffer was copied, not transferred: still readable here.
    expect(x.data.length).toBe(6);
    await net.backward('b', { shape: [2, 3], data: new Float32Array(6).fill(0.5) }, opts('r1'));
    expect(log).toEqual(['forward a r1 [2,3]', 'backward a r1 [2,3] 0.5']);
    expect(exposed.pendingCount).toBe(0);
    expect(net.pendingCount).toBe(0);
  });

  it('routes incoming expert calls into the worker and stops when told', async () => {
    const hub = new InMemoryHub();
    const b = hub.join('b');
    const { net, exposed } = await bridged(hub, 'a');
    const log: string[] = [];
    const unserve = net.serve(doubling(log));
    await settled(net); // the 'serve' message reaches the main side
    const answer = await b.forward('a', x, opts('q1'));
    expect(Array.from(answer.data)).toEqual(Array.from(x.data).map((v) => Math.fround(2 * v)));
    await b.backward('a', { shape: [2, 3], data: new Float32Array(6).fill(-1) }, opts('q1'));
    expect(log).toEqual(['forward b q1 [2,3]', 'backward b q1 [2,3] -1']);
    unserve();
    await settled(net);
    expect(await codeOf(b.forward('a', x, opts('q2')))).toBe('rejected');
    expect(exposed.pendingCount).toBe(0);
  });

  it('announces peers joining and leaving', async () => {
    const hub = new InMemoryHub();
    const { net } = await bridged(hub, 'a');
    const events: string[] = [];
    net.on('peer-connected', (p) => events.push(`+${p}`));
    net.on('peer-disconnected', (p) => events.push(`-${p}`));
    hub.join('c');
    await vi.waitFor(() => expect(net.peers()).toEqual(['c']));
    hub.leave('c');
    await vi.waitFor(() => expect(events).toEqual(['+c', '-c']));
    expect(net.peers()).toEqual([]);
  });

  it('keeps the error codes: gone peer, timeout, an expert refusing, a NaN answer', async () => {
    const hub = new InMemoryHub();
    const slow = hub.join('slow');
    slow.serve(doubling([]));
    slow.fault = { delayMs: 300 };
    const refusing = hub.join('refusing');
    refusing.serve({
      forward: async () => {
        throw new ExpertError('rejected', 'no thanks');
      },
      backward: async () => {},
    });
    const nan = hub.join('nan');
    nan.serve(doubling([]));
    nan.fault = { answer: 'nan' };
    const { net, exposed } = await bridged(hub, 'a');
    expect(await codeOf(net.forward('nobody', x, opts('e1')))).toBe('peer-gone');
    expect(await codeOf(net.forward('slow', x, opts('e2', 50)))).toBe('timeout');
    expect(await codeOf(net.forward('refusing', x, opts('e3')))).toBe('rejected');
    // Non-finite values never cross the bridge into the model.
    expect(await codeOf(net.forward('nan', x, opts('e4')))).toBe('invalid');
    expect(exposed.pendingCount).toBe(0);
  });

  it('rejects tensors that do not match their shape or hold NaN before they cross', async () => {
    const hub = new InMemoryHub();
    hub.join('b').serve(doubling([]));
    const { net } = await bridged(hub, 'a');
    const wrong: WireTensor = { shape: [2, 2], data: new Float32Array(3) };
    expect(await codeOf(net.forward('b', wrong, opts('v1')))).toBe('invalid');
    const withNaN: WireTensor = { shape: [1, 2], data: Float32Array.of(1, Number.NaN) };
    expect(await codeOf(net.forward('b', withNaN, opts('v2')))).toBe('invalid');
  });

  it('drops malformed messages from either side with a reason, and keeps working', async () => {
    const hub = new InMemoryHub();
    hub.join('b').serve(doubling([]));
    const { net, worker, main, invalid } = await bridged(hub, 'a');
    // Junk into the main side (as if the worker were buggy).
    worker.postMessage(
      { t: 'call', id: 99, op: 'forward', peerId: 'b', rid: 'x', tensor: { shape: [1], data: [1] } },
      [],
    );
    worker.postMessage('not even an object', []);
    // Junk into the worker side.
    main.postMessage({ t: 'peer', event: 'peer-exploded', peerId: 'b' }, []);
    await vi.waitFor(() => expect(invalid.length).toBe(2));
    // The main side answered call 99 with 'invalid' (no one waits for it); the bad peer event is dropped.
    await vi.waitFor(() => expect(net.dropped).toBe(1));
    const answer = await net.forward('b', x, opts('ok'));
    expect(answer.shape).toEqual([2, 3]);
  });

  it('an AbortSignal cancels the call on both sides', async () => {
    const hub = new InMemoryHub();
    const slow = hub.join('slow');
    slow.serve(doubling([]));
    slow.fault = { delayMs: 500 };
    const { net, exposed } = await bridged(hub, 'a');
    const ac = new AbortController();
    const call = net.forward('slow', x, { ...opts('c1'), signal: ac.signal });
    await vi.waitFor(() => expect(exposed.pendingCount).toBe(1));
    ac.abort();
    expect(await codeOf(call)).toBe('cancelled');
    await vi.waitFor(() => expect(exposed.pendingCount).toBe(0));
    expect(net.pendingCount).toBe(0);
  });

  it('close() settles every pending call both ways and leaves nothing behind', async () => {
    const hub = new InMemoryHub();
    const slow = hub.join('slow');
    slow.serve(doubling([]));
    slow.fault = { delayMs: 500 };
    const { net, exposed, worker } = await bridged(hub, 'a');
    let release: () => void = () => {};
    net.serve({
      forward: (_f, _r, t) => new Promise((r) => (release = () => r(t))),
      backward: async () => {},
    });
    await settled(net);
    const outgoing = codeOf(net.forward('slow', x, opts('p1')));
    const incoming = codeOf(slow.forward('a', x, opts('p2')));
    await vi.waitFor(() => expect(exposed.pendingCount).toBe(2));
    net.close();
    expect(await outgoing).toBe('cancelled');
    await vi.waitFor(() => expect(exposed.pendingCount).toBe(0));
    expect(['rejected', 'cancelled', 'peer-gone']).toContain(await incoming);
    release();
    expect(net.pendingCount).toBe(0);
    expect(await codeOf(net.forward('slow', x, opts('p3')))).toBe('cancelled');
    // A restarted Peer connects again over the same port and the network is still open.
    const again = await PortExpertNetwork.connect(worker, 'a');
    expect(again.peers()).toEqual(['slow']);
    slow.fault = {};
    expect((await again.forward('slow', x, opts('p4'))).shape).toEqual([2, 3]);
  });

  it('a failing open on the main side fails the connect in the worker', async () => {
    const { main, worker } = channel();
    exposeExpertNetwork(main, async () => {
      throw new Error('server unreachable');
    });
    await expect(PortExpertNetwork.connect(worker, 'a')).rejects.toThrow('server unreachable');
  });
});

describe('ledger bridge', () => {
  it('carries transactions and block subscriptions; close answers what is pending', async () => {
    const sent: unknown[] = [];
    const blockSubs = new Map<number, (b: unknown) => void>();
    let nextSub = 0;
    let holdTx = false;
    const transport = {
      sendTx: (tx: unknown) => {
        sent.push(tx);
        return holdTx
          ? new Promise<never>(() => {})
          : Promise.resolve({ ok: false, code: 'bad-nonce', message: 'nonce 3 expected' });
      },
      subscribe: (from: number, onBlock: (b: unknown) => void) => {
        const id = nextSub++;
        blockSubs.set(id, onBlock);
        onBlock({ height: from });
        return () => blockSubs.delete(id);
      },
    };
    const { main, worker } = channel();
    const exposed = exposeLedgerTransport(main, transport);
    const bridge = new PortLedgerTransport(worker);
    expect(await bridge.sendTx({ kind: 'set-weights', row: [1] })).toEqual({
      ok: false,
      code: 'bad-nonce',
      message: 'nonce 3 expected',
    });
    expect(sent).toEqual([{ kind: 'set-weights', row: [1] }]);
    const blocks: unknown[] = [];
    const off = bridge.subscribe(5, (b) => blocks.push(b));
    await vi.waitFor(() => expect(blocks).toEqual([{ height: 5 }]));
    blockSubs.get(0)?.({ height: 6, txs: [new Uint8Array([1, 2])] });
    await vi.waitFor(() => expect(blocks).toHaveLength(2));
    expect(blocks[1]).toEqual({ height: 6, txs: [new Uint8Array([1, 2])] });
    off();
    await vi.waitFor(() => expect(exposed.subscriptions).toBe(0));
    expect(blockSubs.size).toBe(0);

    holdTx = true;
    const pending = bridge.sendTx({ kind: 'register' });
    bridge.subscribe(7, () => {});
    await vi.waitFor(() => expect(exposed.subscriptions).toBe(1));
    bridge.close();
    expect(await pending).toMatchObject({ ok: false, code: 'closed' });
    await vi.waitFor(() => expect(exposed.subscriptions).toBe(0));
    expect(bridge.pendingCount).toBe(0);
  });
});

describe('peer bridge', () => {
  it('hosts a real Peer across a port: commands, rebuilt histories, training with a peer on the hub', async () => {
    const hub = new InMemoryHub();
    const other = await Peer.create({
      task: await skewedTask([1, 2], 7, 100),
      backend: false,
      model: SMALL_MODEL,
      step: { batchSize: 8 },
      network: (id) => hub.join(id.peerId),
      autoRun: false,
      pingEveryMs: 0,
    });
    await other.start();

    const net = channel();
    const ctl = channel();
    const worked = await Peer.create({
      task: await skewedTask([3, 4], 8, 100),
      backend: false,
      model: SMALL_MODEL,
      step: { batchSize: 8 },
      evalEverySteps: 2,
      network: (id) => PortExpertNetwork.connect(net.worker, id.peerId),
      pingEveryMs: 0,
    });
    const exposed = exposeExpertNetwork(net.main, () => hub.join(worked.peerId));
    const host = hostPeer(ctl.worker, worked, { snapshotIntervalMs: 20 });
    const invalid: string[] = [];
    const remote = new RemotePeer(ctl.main, worked.getSnapshot(), { onInvalid: (r) => invalid.push(r) });
    const seen: PeerSnapshot[] = [];
    remote.subscribe((s) => seen.push(s));

    await remote.start();
    await vi.waitFor(() => expect(remote.getSnapshot().step).toBeGreaterThanOrEqual(8), { timeout: 30_000 });
    await remote.pause();
    expect(remote.getSnapshot().status).toBe('paused');
    await remote.resume();
    await vi.waitFor(() => expect(remote.getSnapshot().step).toBeGreaterThanOrEqual(12), { timeout: 30_000 });
    await remote.stop();
    expect(remote.getSnapshot().status).toBe('stopped');

    // The deltas rebuild exactly the Peer's own history.
    expect(remote.getSnapshot().lossHistory).toEqual(worked.getSnapshot().lossHistory);
    expect(remote.getSnapshot().accuracy).toBe(worked.getSnapshot().accuracy);
    expect(seen.map((s) => s.status)).toContain('running');
    // It trained with the other peer through the bridge.
    expect(worked.getSnapshot().stats!.forwardRequested).toBeGreaterThan(0);
    expect(worked.getSnapshot().stats!.answersAccepted).toBeGreaterThan(0);
    expect(invalid).toEqual([]);
    await vi.waitFor(() => expect(exposed.pendingCount).toBe(0));
    expect(remote.pendingCount).toBe(0);
    host.stop();
    remote.close();
    exposed.stop();
    await other.stop();
  }, 60_000);

  it('a failing start comes back as a rejected command with the reason; fail() marks the peer', async () => {
    const ctl = channel();
    const peer = await Peer.create({
      task: async () => {
        throw new Error('no dataset here');
      },
      backend: false,
    });
    hostPeer(ctl.worker, peer);
    const remote = new RemotePeer(ctl.main, peer.getSnapshot());
    await expect(remote.start()).rejects.toThrow('no dataset here');
    await vi.waitFor(() => expect(remote.getSnapshot().status).toBe('error'));
    remote.fail('worker-failed', 'the worker crashed');
    expect(remote.getSnapshot().error).toEqual({ code: 'worker-failed', message: 'the worker crashed' });
    remote.close();
    await expect(remote.start()).rejects.toThrow('closed');
  });
});
