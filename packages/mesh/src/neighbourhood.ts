/**
 * Bounded neighbourhoods (issue 14): which peers of a room this peer keeps
 * links to. The transport knows who is in the room (a bounded sample the
 * signaling server hands out, or every peer of an in-memory network) and
 * can open or close a link on request; the neighbour policy in
 * packages/peer decides which, once per block. Interface only: the
 * in-memory network and the WebRTC mesh implement it.
 *
 * Rules every implementation keeps (the compliance suite checks them):
 * - Links are symmetric: when A links B, B's `peers()` lists A too, and
 *   `unlink` on either side closes it for both.
 * - At most `maxLinks` links per peer (connecting + connected). A `link`
 *   to a peer that already holds `maxLinks` is refused (the promise
 *   resolves `false`), and so is a `link` beyond this peer's own cap.
 * - A peer that was unlinked is not re-linked by the transport on its own:
 *   only `link` opens links while a neighbourhood is in use.
 */

export interface NeighbourhoodCandidates {
  /** Known members of the room other than self (a bounded sample; may include linked peers). */
  readonly peerIds: string[];
  /** How many members the room has, when the transport knows (the server says so in its sample). */
  readonly roomSize: number | null;
}

export interface Neighbourhood {
  /** Most links this peer holds at once (D). */
  readonly maxLinks: number;
  /** Members this peer could link to, as last sampled. */
  candidates(): NeighbourhoodCandidates;
  /** Asks for a fresh sample of members (the server's `sample` request; in memory, immediate). */
  refreshCandidates(): Promise<NeighbourhoodCandidates>;
  /**
   * Opens a link to `peerId`; resolves true once it is usable (listed by
   * `peers()`), false when refused (either side full, peer gone, timed out).
   * Never rejects.
   */
  link(peerId: string): Promise<boolean>;
  /** Closes the link to `peerId` on both sides (no-op when not linked). */
  unlink(peerId: string): void;
}
