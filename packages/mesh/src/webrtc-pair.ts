/**
 * Two WebRTC links in one process, their signals handed across directly (no
 * signaling server). Used by the compliance tests and the benchmark so that
 * the very same RTCDataChannel pair carries raw and RPC traffic.
 */
import type { Link } from './link.js';
import { WebRtcConnection } from './webrtc-link.js';

export interface WebRtcLinkPair {
  /** a's end (its remote is bPeerId). */
  a: Link;
  b: Link;
  close(): void;
}

export function createWebRtcLinkPair(
  aPeerId: string,
  bPeerId: string,
  opts: { wrtc?: unknown; timeoutMs?: number } = {},
): Promise<WebRtcLinkPair> {
  return new Promise((resolve, reject) => {
    /** The open links of end a (0) and end b (1). */
    const links: [Link | undefined, Link | undefined] = [undefined, undefined];
    let settled = false;
    const fail = (reason: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      a.destroy(reason);
      b.destroy(reason);
      reject(new Error(`WebRTC pair failed: ${reason}`));
    };
    const maybeDone = () => {
      const [aLink, bLink] = links;
      if (settled || !aLink || !bLink) return;
      settled = true;
      clearTimeout(timer);
      resolve({
        a: aLink,
        b: bLink,
        close: () => {
          a.destroy('pair closed');
          b.destroy('pair closed');
        },
      });
    };
    /** End `index` (a initiates); its signals go straight to the other end (made after it, hence `other()`). */
    const end = (index: 0 | 1, remotePeerId: string, other: () => WebRtcConnection) =>
      new WebRtcConnection({
        remotePeerId,
        initiator: index === 0,
        wrtc: opts.wrtc,
        onSignal: (data) => other().signal(data),
        onConnect: (link) => {
          links[index] = link;
          maybeDone();
        },
        onClose: (reason) => fail(reason),
      });
    const a: WebRtcConnection = end(0, bPeerId, () => b);
    const b: WebRtcConnection = end(1, aPeerId, () => a);
    const timer = setTimeout(() => fail('timed out connecting'), opts.timeoutMs ?? 15_000);
  });
}
