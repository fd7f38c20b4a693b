/**
 * Liveness of an open link, checked over the data channel itself: ICE alone
 * does not always notice a dead path. Measured in packages/netlab: after a
 * 20 s outage of one host, in some runs neither side's ICE ever failed while
 * nothing crossed the link (the home's NAT mapping had changed; each side
 * still heard the other's connectivity checks), and pings went unanswered for
 * 50 s+. So every open link is pinged every LINK_HEARTBEAT_INTERVAL_MS, and
 * LINK_HEARTBEAT_MISSES unanswered pings in a row close it (the mesh then
 * makes a new one). A ping waits behind at most the transport's high-water
 * mark of data (pings jump ahead of queued tensors), so a busy link answers.
 */
import type { RpcSession } from './rpc-session.js';

export const LINK_HEARTBEAT_INTERVAL_MS = 5_000;
/** Unanswered pings in a row (each waits one interval) before the link is declared dead. */
export const LINK_HEARTBEAT_MISSES = 3;

/** Pings `session` until it closes; calls `onDead(reason)` once after too many misses. Returns stop. */
export function startLinkHeartbeat(
  session: Pick<RpcSession, 'isOpen' | 'ping'>,
  onDead: (reason: string) => void,
  intervalMs = LINK_HEARTBEAT_INTERVAL_MS,
  maxMisses = LINK_HEARTBEAT_MISSES,
): () => void {
  let misses = 0;
  let inFlight = false;
  const timer = setInterval(() => {
    if (!session.isOpen) return stop();
    if (inFlight) return;
    inFlight = true;
    session.ping(intervalMs).then(
      () => {
        inFlight = false;
        misses = 0;
      },
      () => {
        inFlight = false;
        if (!session.isOpen) return stop();
        misses++;
        if (misses < maxMisses) return;
        stop();
        onDead(`no answer to ${maxMisses} pings in a row`);
      },
    );
  }, intervalMs);
  (timer as { unref?: () => void }).unref?.();
  function stop(): void {
    clearInterval(timer);
  }
  return stop;
}
