/**
 * The send queue's byte cap when the remote stops reading: a link whose
 * transport never drains (what a remote that reads nothing looks like from
 * here), then a real WebRTC peer in a child process frozen with SIGSTOP.
 */
import type { ChildProcess } from 'node:child_process';
import { generateIdentity, RpcError, type WireTensor } from '@peerbench/protocol';
import { createSignalingServer } from '@peerbench/signaling-server';
import wrtc from '@roamhq/wrtc';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type Link, type LinkListener, PeerMesh, RpcSession, SEND_HIGH_WATER_BYTES } from '../src/index.js';
import { startChildPeer } from './child-peer.js';

const MiB = 1024 * 1024;

/** A link whose far end never reads: every frame sent stays in bufferedAmount. */
class StalledLink implements Link {
  readonly remotePeerId = 'f'.repeat(64);
  readonly isOpen = true;
  readonly drainEvents = true;
  lowWaterBytes = 0;
  bufferedAmount = 0;
  send(frame: Uint8Array): void {
    this.bufferedAmount += frame.length;
  }
  close(): void {}
  setListener(_listener: LinkListener): void {}
}

function tensorOfBytes(bytes: number, seed: number): WireTensor {
  const data = new Float32Array(bytes / 4);
  data.fill(seed);
  return { shape: [data.length], data };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return e instanceof RpcError ? e.code : `other: ${String(e)}`;
  }
}

describe('send queue byte cap', () => {
  it('a remote that never reads: requests beyond the cap fail at once with send-queue-full, memory stays at the cap', async () => {
    const link = new StalledLink();
    const capBytes = 2 * MiB;
    const session = new RpcSession(link, { handlers: new Map(), sendQueueMaxBytes: capBytes });
    const calls: Promise<string>[] = [];
    let maxQueued = 0;
    for (let i = 0; i < 40; i++) {
      calls.push(codeOf(session.request('m', [tensorOfBytes(256 * 1024, i)], { timeoutMs: 60_000 })));
      maxQueued = Math.max(maxQueued, session.queuedBytes);
    }
    // The refused ones settle at once; the accepted ones wait (the remote never answers).
    const settled = await Promise.race([
      Promise.all(calls.slice(20)),
      new Promise<'pending'>((r) => setTimeout(() => r('pending'), 1_000)),
    ]);
    expect(settled).toEqual(Array(20).fill('send-queue-full'));
    expect(maxQueued).toBeLessThanOrEqual(capBytes);
    expect(session.queuedBytes).toBeLessThanOrEqual(capBytes);
    // What went out is bounded by the transport's high-water mark (plus one frame).
    expect(link.bufferedAmount).toBeLessThan(SEND_HIGH_WATER_BYTES + 17 * 1024);
    expect(session.stats.sendQueueRefusals).toBeGreaterThanOrEqual(21);
    session.close('cancelled', 'test over');
    expect(await Promise.all(calls.slice(0, 4))).toEqual(Array(4).fill('cancelled'));
    expect(session.queuedBytes).toBe(0);
  });

  it('a real WebRTC peer frozen with SIGSTOP: the queue stops at its cap, and after SIGCONT the accepted requests complete', async () => {
    const server = createSignalingServer({ host: '127.0.0.1', port: 0, shutdownGraceMs: 0 });
    await server.start();
    const capBytes = 4 * MiB;
    const mesh = new PeerMesh({
      signalingUrl: server.url,
      room: 'send-cap',
      identity: await generateIdentity(),
      wrtc,
      WebSocket: WebSocket,
      sendQueueMaxBytes: capBytes,
    });
    await mesh.start();
    let child: ChildProcess | undefined;
    try {
      const far = await startChildPeer(server.url, 'send-cap', mesh);
      child = far.child;
      const childId = far.peerId;
      child.kill('SIGSTOP');
      const calls: Promise<string>[] = [];
      let maxQueued = 0;
      // 64 MiB offered to a peer that reads nothing: without the cap all of it would sit in memory.
      for (let i = 0; i < 64; i++) {
        const x = tensorOfBytes(MiB, i);
        calls.push(
          mesh.request(childId, 'echo', [x], { timeoutMs: 60_000 }).then(
            ([y]) => (y!.data[0] === i ? 'ok' : 'wrong answer'),
            (e: unknown) => (e instanceof RpcError ? e.code : String(e)),
          ),
        );
        maxQueued = Math.max(maxQueued, mesh.linkStats(childId)!.queuedBytes);
        // Let the pump run between requests, as a training loop would.
        await new Promise((r) => setImmediate(r));
      }
      const refused = (await Promise.race([
        Promise.all(calls.slice(-8)),
        new Promise<string[]>((r) => setTimeout(() => r([]), 5_000)),
      ])) as string[];
      expect(refused).toEqual(Array(8).fill('send-queue-full'));
      expect(maxQueued).toBeLessThanOrEqual(capBytes);
      const stats = mesh.linkStats(childId)!;
      expect(stats.sendQueueRefusals).toBeGreaterThanOrEqual(8);
      child.kill('SIGCONT');
      const codes = await Promise.all(calls);
      const accepted = codes.filter((c) => c !== 'send-queue-full');
      expect(accepted.length).toBeGreaterThan(0);
      expect(new Set(accepted)).toEqual(new Set(['ok']));
      console.info(
        `SIGSTOPped peer: ${accepted.length} of 64 × 1 MiB requests accepted, ${codes.length - accepted.length} refused, queue max ${(maxQueued / MiB).toFixed(1)} MiB (cap ${capBytes / MiB} MiB)`,
      );
    } finally {
      child?.kill('SIGCONT');
      child?.kill('SIGKILL');
      await mesh.stop();
      await server.stop();
    }
  }, 90_000);
});
