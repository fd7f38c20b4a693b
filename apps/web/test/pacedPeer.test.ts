import { initialSnapshot, type PeerSnapshot } from '@peerbench/peer/worker';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PacedPeer, restAfter, type SteppablePeer } from '../src/pacedPeer.js';

/** A Peer stand-in whose steps take `stepMs` on a fake clock, with the Peer's status rules. */
function fakePeer(stepMs: number, clock: { t: number }, failAt = -1) {
  let snap: PeerSnapshot = initialSnapshot('p', 'r');
  const subs = new Set<(s: PeerSnapshot) => void>();
  const publish = (patch: Partial<PeerSnapshot>) => {
    snap = { ...snap, ...patch };
    for (const cb of subs) cb(snap);
  };
  const log: string[] = [];
  const peer: SteppablePeer = {
    start: async () => publish({ status: 'running' }),
    stop: async () => {
      log.push('stop');
      publish({ status: 'stopped' });
    },
    pause: () => publish({ status: 'paused' }),
    resume: () => publish({ status: 'running' }),
    getSnapshot: () => snap,
    subscribe: (cb) => {
      subs.add(cb);
      return () => subs.delete(cb);
    },
    step: async () => {
      clock.t += stepMs;
      const n = snap.step + 1;
      publish({ step: n });
      log.push(`step ${n}`);
      if (n === failAt) throw new Error('lost the GPU');
    },
  };
  return { peer, log };
}

describe('PacedPeer', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('rests a multiple of the step time, within bounds', () => {
    const pace = { restPerStep: 2, minRestMs: 20, maxRestMs: 2000 };
    expect(restAfter(5, pace)).toBe(20);
    expect(restAfter(120, pace)).toBe(240);
    expect(restAfter(5000, pace)).toBe(2000);
    expect(restAfter(Number.NaN, pace)).toBe(2000);
  });

  it('steps with the paced rest, pauses, resumes, reports a failing step, and stops after the step in flight', async () => {
    // The loop's rests are setTimeouts: on fake timers "nothing happens while paused / after stop" is
    // checked over many rest periods without waiting for them (vi.waitFor advances the fake clock too).
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const clock = { t: 0 };
    const { peer, log } = fakePeer(10, clock, 3);
    const paced = new PacedPeer(peer, { restPerStep: 2, minRestMs: 1, maxRestMs: 50 }, () => clock.t);
    const seen: PeerSnapshot[] = [];
    paced.subscribe((s) => seen.push(s));
    await paced.start();
    await vi.waitFor(() => expect(paced.getSnapshot().step).toBeGreaterThanOrEqual(3));
    expect(paced.lastRestMs).toBe(20);
    // Step 3 failed: shown like the Peer's own loop shows it, and the loop went on.
    await vi.waitFor(() => expect(paced.getSnapshot().step).toBeGreaterThanOrEqual(4));
    expect(seen.some((s) => s.error?.code === 'step-failed')).toBe(true);
    expect(paced.getSnapshot().error).toBeNull();
    await paced.pause();
    const at = paced.getSnapshot().step;
    // At most the step in flight when pause() came; then ten paused rests (maxRestMs each) pass without a step.
    await vi.advanceTimersByTimeAsync(10 * 50);
    expect(paced.getSnapshot().step).toBeLessThanOrEqual(at + 1);
    expect(paced.getSnapshot().status).toBe('paused');
    await paced.resume();
    await vi.waitFor(() => expect(paced.getSnapshot().step).toBeGreaterThan(at + 1));
    await paced.stop();
    const steps = paced.getSnapshot().step;
    expect(log.at(-1)).toBe('stop');
    await vi.advanceTimersByTimeAsync(10 * 50);
    expect(paced.getSnapshot().step).toBe(steps);
    expect(vi.getTimerCount()).toBe(0);
  });
});
