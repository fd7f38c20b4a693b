/** The link heartbeat: answered pings keep a link, unanswered ones in a row close it once. */
import { RpcError } from '@peerbench/protocol';
import { describe, expect, it, vi } from 'vitest';
import { LINK_HEARTBEAT_MISSES, startLinkHeartbeat } from '../src/link-heartbeat.js';

function fakeSession(answer: () => boolean) {
  const session = {
    isOpen: true,
    pings: 0,
    ping(): Promise<number> {
      session.pings++;
      return answer() ? Promise.resolve(1) : Promise.reject(new RpcError('timeout', 'no pong'));
    },
  };
  return session;
}

describe('startLinkHeartbeat', () => {
  it('declares a link dead after LINK_HEARTBEAT_MISSES unanswered pings in a row, once', async () => {
    const session = fakeSession(() => false);
    const dead: string[] = [];
    startLinkHeartbeat(session, (why) => dead.push(why), 5);
    await vi.waitFor(() => expect(dead).toHaveLength(1), { timeout: 5_000, interval: 5 });
    expect(dead[0]).toBe(`no answer to ${LINK_HEARTBEAT_MISSES} pings in a row`);
    expect(session.pings).toBe(LINK_HEARTBEAT_MISSES);
  });

  it('an answer resets the count; a link that answers often enough is kept', async () => {
    let n = 0;
    // Every other ping is lost: never MISSES in a row.
    const session = fakeSession(() => n++ % 2 === 0);
    const dead: string[] = [];
    const stop = startLinkHeartbeat(session, (why) => dead.push(why), 5);
    await vi.waitFor(() => expect(session.pings).toBeGreaterThanOrEqual(20), { timeout: 5_000, interval: 5 });
    stop();
    expect(dead).toEqual([]);
  });

  it('stops by itself once the session closes', async () => {
    vi.useFakeTimers();
    try {
      const session = fakeSession(() => true);
      startLinkHeartbeat(session, () => {}, 5);
      await vi.advanceTimersByTimeAsync(20);
      expect(session.pings).toBe(4);
      session.isOpen = false;
      await vi.advanceTimersByTimeAsync(100);
      expect(session.pings).toBe(4);
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});
