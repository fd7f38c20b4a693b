/**
 * PeerMesh: this peer's WebRTC links to the other members of a room, found
 * through the signaling server, and RPC over them.
 *
 * - Glare: only the peer with the lower id sends offers; the other answers.
 *   An offer from a higher id is ignored, so two peers never offer at once.
 * - Re-establishment: when a link drops while both peers are still in the
 *   room, the lower id re-offers after an exponential backoff with jitter,
 *   the answerer asks it to (relink.ts); a fresh offer from the lower id
 *   replaces whatever the answerer still holds.
 * - Presence: `peer-left` from the server means the peer's *signaling* socket
 *   closed. That is either a crash or a brief signaling drop (a flaky
 *   network, a proxy idle timeout) while its data channel is fine. So the
 *   link is probed with one ping first (PEER_LEFT_PROBE_TIMEOUT_MS): an
 *   answer keeps it, silence ends it, and requests to a crashed peer fail
 *   with `peer-gone` within that probe instead of waiting for ICE to time
 *   out. A server restart does not touch live links; the signaling client
 *   reconnects by itself and missing links are offered again.
 * - maxPeers caps links (connecting + connected); offers beyond it are ignored.
 * - Link status (`links()`, `link` events; link-status.ts), reported to the
 *   server (link-reporter.ts); a link not open by LINK_CONNECT_DEADLINE_MS is
 *   closed and reported failed on whichever side holds it. A TURN 401 gets
 *   fresh credentials and a retry of unconnected links (turn-refresh.ts).
 * - With `neighbourhood: { maxLinks }` the mesh links to nobody on its own:
 *   links form through `neighbourhood.link(id)` (or the other side's), at
 *   most maxLinks, and one that ends is not re-formed (mesh-neighbourhood.ts).
 * - Per-peer bookkeeping (entries, ending a link and its session): peer-table.ts.
 */
import {
  DEFAULT_REQUEST_TIMEOUT_MS,
  ReassemblyBudget,
  type SignalData,
  type WireTensor,
} from '@peerbench/protocol';
import { Emitter } from './emitter.js';
import { isTurnAuthError } from './ice-stats.js';
import type { Link } from './link.js';
import { startLinkHeartbeat } from './link-heartbeat.js';
import { startLinkReporter } from './link-reporter.js';
import { type LinkInfo, LinkTable, readConnectionType } from './link-status.js';
import { MeshNeighbourhood, type NeighbourhoodHost } from './mesh-neighbourhood.js';
import type { Neighbourhood } from './neighbourhood.js';
import { linkStateOf, type PeerEntry, signalingClientOptions } from './peer-entry.js';
import {
  DEFAULT_MAX_PEERS,
  LINK_CONNECT_DEADLINE_MS,
  type MeshConnectionState,
  PEER_LEFT_PROBE_TIMEOUT_MS,
  type PeerMeshEvents,
  type PeerMeshOptions,
} from './peer-mesh-options.js';
import { PeerTable } from './peer-table.js';
import { askForOffer, restartStalledLink, scheduleReoffer } from './relink.js';
import { type HandlerContext, type RequestOptions, type RpcHandler, RpcSession } from './rpc-session.js';
import { SignalingClient, type SignalingState } from './signaling-client.js';
import { TurnCredentialRefresher } from './turn-refresh.js';
import { WebRtcConnection } from './webrtc-link.js';

export * from './peer-mesh-options.js';

export class PeerMesh {
  readonly peerId: string;
  readonly signaling: SignalingClient;
  private readonly opts: PeerMeshOptions;
  private readonly maxPeers: number;
  private readonly events = new Emitter<PeerMeshEvents>();
  private readonly handlers = new Map<string, RpcHandler>();
  /** One budget for the partial messages of every link: many links cannot add up to unbounded memory. */
  private readonly reassemblyBudget = new ReassemblyBudget();
  private readonly peers = new PeerTable((id) => this.events.emit('peer-disconnected', id));
  private readonly linkTable = new LinkTable();
  private readonly unsubscribe: (() => void)[] = [];
  private running = false;
  private turn: TurnCredentialRefresher | undefined;
  private readonly hood: MeshNeighbourhood | undefined;

  constructor(opts: PeerMeshOptions) {
    this.opts = opts;
    this.peerId = opts.identity.peerId;
    this.maxPeers = opts.neighbourhood?.maxLinks ?? opts.maxPeers ?? DEFAULT_MAX_PEERS;
    this.signaling = new SignalingClient(signalingClientOptions(opts));
    if (opts.neighbourhood) this.hood = new MeshNeighbourhood(this.neighbourhoodHost(), this.maxPeers);
  }

  /** Present with the `neighbourhood` option: links this peer chooses (neighbourhood.ts). */
  get neighbourhood(): Neighbourhood | undefined {
    return this.hood;
  }

  on(event: 'peer-connected' | 'peer-disconnected', cb: (peerId: string) => void): () => void;
  on(event: 'connection', cb: (state: MeshConnectionState) => void): () => void;
  /** Every change of a link's status (state, connection type, failure); `closed` when its entry goes. */
  on(event: 'link', cb: (info: LinkInfo) => void): () => void;
  on(event: keyof PeerMeshEvents, cb: (arg: never) => void): () => void {
    if (event === 'link') return this.linkTable.onChange(cb as (info: LinkInfo) => void);
    return this.events.on(event, cb as (arg: string) => void);
  }

  /** The status of every link this mesh holds or is trying to make (see link-status.ts). */
  links(): LinkInfo[] {
    return this.linkTable.list();
  }

  /** Joins the room; resolves once the server has welcomed this peer. Links form in the background. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const s = this.signaling;
    this.unsubscribe.push(
      s.on('state', (st) => this.onSignalingState(st)),
      s.on('welcome', (w) => {
        for (const p of w.peers) {
          // A rejoin: links half-made over the old socket start over now (relink.ts).
          const e = this.peers.get(p.peerId);
          if (!this.hood && restartStalledLink(e)) this.relink(p.peerId, e, true);
          else this.consider(p.peerId);
        }
      }),
      s.on('peer-joined', (p) => this.consider(p.peerId)),
      s.on('peer-left', (id) => this.onPeerLeft(id)),
      s.on('signal', ({ from, data }) => this.onSignal(from, data)),
      startLinkReporter(s, this.linkTable, this.opts.linkReportDebounceMs),
    );
    const turn = new TurnCredentialRefresher(
      s,
      () => this.retryTurnRefused(),
      this.opts.turnRefreshMinIntervalMs,
    );
    this.turn = turn;
    this.unsubscribe.push(() => turn.stop());
    await s.start();
  }

  /** Leaves the room and closes every link; pending requests reject with `cancelled`. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    for (const u of this.unsubscribe.splice(0)) u();
    this.hood?.stop();
    for (const id of this.peers.ids()) this.forget(id, 'mesh stopped', 'cancelled');
    await this.signaling.stop();
    this.events.emit('connection', 'closed');
  }

  /** Peers with an open data channel. */
  connectedPeers(): string[] {
    return this.peers.connectedPeers();
  }

  handle(
    method: string,
    handler: (ctx: HandlerContext, tensors: WireTensor[]) => Promise<WireTensor[]>,
  ): void {
    this.handlers.set(method, handler);
  }

  /** Rejects with RpcError `peer-gone` when no data channel to `peerId` is open. */
  async request(
    peerId: string,
    method: string,
    tensors: WireTensor[],
    opts: RequestOptions = {},
  ): Promise<WireTensor[]> {
    return this.peers.openSession(peerId).request(method, tensors, opts);
  }

  /** Round-trip time in ms over the data channel. */
  async ping(peerId: string, timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS): Promise<number> {
    return this.peers.openSession(peerId).ping(timeoutMs);
  }

  /** Fresh-credential requests this mesh sent after TURN 401s. */
  get turnRefreshes(): number {
    return this.turn?.requests ?? 0;
  }

  /** Per-peer RPC counters (invalid frames etc.) and the bytes in its send queue, for dashboards and tests. */
  linkStats(peerId: string): (RpcSession['stats'] & { queuedBytes: number }) | undefined {
    const session = this.peers.get(peerId)?.session;
    return session && { ...session.stats, queuedBytes: session.queuedBytes };
  }

  // ---- connection management -------------------------------------------------

  private onSignalingState(st: SignalingState): void {
    // 'closed' is emitted by stop() itself, after the links are gone.
    if (st !== 'idle' && st !== 'closed') this.events.emit('connection', st);
  }

  private linkCount(): number {
    return this.peers.linkCount(this.hood?.pendingIds());
  }

  private neighbourhoodHost(): NeighbourhoodHost {
    return {
      peerId: this.peerId,
      signaling: this.signaling,
      linkCount: () => this.linkCount(),
      linkState: (id) => linkStateOf(this.peers.get(id)),
      offer: (id) => this.running && this.connect(id, true),
      close: (id, reason) => this.forget(id, reason),
      connectDeadlineMs: this.opts.connectTimeoutMs ?? LINK_CONNECT_DEADLINE_MS,
    };
  }

  /** A room member we may link to: offer if we are the lower id, else wait for its offer. */
  private consider(peerId: string): void {
    if (!this.running || peerId === this.peerId || this.hood) return;
    const e = this.peers.ensure(peerId);
    if (e.connection || e.retryTimer) return;
    if (this.peerId < peerId && this.linkCount() < this.maxPeers) this.connect(peerId, true);
  }

  /** Offer to every known member we have no link to (after a slot frees up). */
  private fill(): void {
    for (const p of this.signaling.peers()) this.consider(p.peerId);
  }

  private connect(peerId: string, initiator: boolean): WebRtcConnection {
    const e = this.peers.ensure(peerId);
    const conn: WebRtcConnection = new WebRtcConnection({
      remotePeerId: peerId,
      initiator,
      wrtc: this.opts.wrtc,
      iceServers: this.signaling.iceServers(),
      onSignal: (data) => {
        this.signaling.sendSignal(peerId, data);
      },
      onConnect: (link) => this.onLinkOpen(peerId, conn, link),
      onClose: (reason) => this.onLinkClosed(peerId, conn, reason),
      onCandidateError: (err) => {
        if (!isTurnAuthError(err) || e.connection !== conn) return;
        e.turnRefused = true;
        this.turn?.refused();
      },
      onIceState: (state) => {
        // A new path after an ICE change (restart, network switch) may be of another type.
        if ((state === 'connected' || state === 'completed') && e.connection === conn && e.session)
          void this.readConnectionType(peerId, conn);
      },
    });
    e.connection = conn;
    e.turnRefused = false;
    this.linkTable.update(peerId, { state: 'connecting', type: null, pair: null });
    if (e.connectTimer) clearTimeout(e.connectTimer);
    const deadlineMs = this.opts.connectTimeoutMs ?? LINK_CONNECT_DEADLINE_MS;
    e.connectTimer = setTimeout(() => {
      if (e.connection === conn && !e.session) conn.destroy(`not connected within ${deadlineMs} ms`);
    }, deadlineMs);
    return conn;
  }

  private onLinkOpen(peerId: string, conn: WebRtcConnection, link: Link): void {
    const e = this.peers.get(peerId);
    if (!e || e.connection !== conn || !this.running) {
      conn.destroy('stale connection');
      return;
    }
    if (e.connectTimer) clearTimeout(e.connectTimer);
    e.connectTimer = undefined;
    e.attempts = 0;
    e.session = new RpcSession(link, {
      handlers: this.handlers,
      reassembler: { budget: this.reassemblyBudget },
      ...(this.opts.sendQueueMaxBytes !== undefined
        ? { sendQueueMaxBytes: this.opts.sendQueueMaxBytes }
        : {}),
    });
    this.linkTable.update(peerId, { state: 'connected', failures: 0, reason: null });
    this.hood?.opened(peerId);
    const heartbeat = this.opts.linkHeartbeatIntervalMs;
    startLinkHeartbeat(e.session, (why) => e.connection === conn && conn.destroy(why), heartbeat);
    this.events.emit('peer-connected', peerId);
    void this.readConnectionType(peerId, conn);
  }

  private readConnectionType(peerId: string, conn: WebRtcConnection): Promise<void> {
    const current = () => this.running && this.peers.get(peerId)?.connection === conn;
    return readConnectionType(this.linkTable, peerId, conn, current);
  }

  /** Fresh ICE servers came: links we offer that a TURN server refused start over with them. */
  private retryTurnRefused(): void {
    for (const [peerId, e] of this.peers) {
      if (e.connection && !e.session && e.turnRefused && this.peerId < peerId)
        e.connection.destroy('TURN refused the credentials (401): retrying with fresh ones');
    }
  }

  private onLinkClosed(peerId: string, conn: WebRtcConnection, reason: string): void {
    const e = this.peers.get(peerId);
    if (!e || e.connection !== conn) return;
    if (e.connectTimer) clearTimeout(e.connectTimer);
    e.connectTimer = undefined;
    this.peers.endLink(peerId, e, reason, { linkClosed: true });
    if (!this.running) return;
    if (this.hood) {
      // Chosen links are not re-formed by the mesh: the neighbour policy decides.
      this.forget(peerId, reason);
      return;
    }
    const stillMember = this.signaling.peers().some((p) => p.peerId === peerId);
    if (stillMember) {
      const failures = (this.linkTable.get(peerId)?.failures ?? 0) + 1;
      // Nothing travels over a failed link: no type until a new one connects.
      this.linkTable.update(peerId, { state: 'failed', reason, failures, type: null, pair: null });
    } else {
      this.linkTable.remove(peerId, reason);
    }
    this.relink(peerId, e, stillMember);
  }

  /** After a link to `peerId` ended (or was reset): make a new one if it is still a member (relink.ts). */
  private relink(peerId: string, e: PeerEntry, stillMember: boolean): void {
    if (stillMember && this.peerId < peerId) {
      scheduleReoffer(e, () => {
        if (this.peers.get(peerId) === e && !e.connection) this.consider(peerId);
      });
    } else if (stillMember) {
      const intervalMs = this.opts.connectTimeoutMs ?? LINK_CONNECT_DEADLINE_MS;
      const stillWanted = () => this.running && this.peers.get(peerId) === e && !e.connection;
      askForOffer(this.signaling, peerId, e, intervalMs, stillWanted);
    } else {
      this.peers.delete(peerId);
    }
    this.fill();
  }

  /** The answerer asks for a new offer: a link it lost is dead here too; one still connecting is left be. */
  private onOfferRequested(from: string, e: PeerEntry): void {
    if (from < this.peerId) return; // only the higher id answers, so only it asks
    if (e.connection && e.session) e.connection.destroy('the other side lost the link');
    else if (!e.connection && !e.retryTimer) this.consider(from);
  }

  private onSignal(from: string, data: SignalData): void {
    if (!this.running || from === this.peerId) return;
    if (this.hood) {
      if (this.hood.onSignal(from, data)) return;
      // Trickled candidates and answers for links that are gone are dropped, not kept as entries.
      if (data.type !== 'offer' && !this.peers.has(from)) return;
    }
    const e = this.peers.ensure(from);
    if (data.type === 'renegotiate') {
      this.onOfferRequested(from, e);
      return;
    }
    if (data.type === 'offer') {
      // Glare rule: only the lower id offers. A higher id's offer is ignored.
      if (from > this.peerId) return;
      // The initiator started over (its side dropped or restarted): replace ours.
      if (e.connection) this.peers.endLink(from, e, 'replaced by a new offer');
      // With a neighbourhood, hood.onSignal has already taken or refused it.
      if (!this.hood && this.linkCount() >= this.maxPeers) return;
      if (e.retryTimer) clearTimeout(e.retryTimer);
      e.retryTimer = undefined;
      this.connect(from, false).signal(data);
      return;
    }
    e.connection?.signal(data);
  }

  /** The server says `peerId` left: keep its link only if the link itself still answers. */
  private onPeerLeft(peerId: string): void {
    const e = this.peers.get(peerId);
    const session = e?.session;
    if (!e || !session?.isOpen) {
      this.forget(peerId, 'peer left the room');
      return;
    }
    session.ping(this.opts.peerLeftProbeTimeoutMs ?? PEER_LEFT_PROBE_TIMEOUT_MS).then(
      () => {
        // Alive: only its signaling socket dropped. The link stays; once the
        // peer rejoins, `consider` sees the live connection and leaves it be.
        // If the channel closes later, onLinkClosed forgets it (not a member).
      },
      () => {
        const now = this.peers.get(peerId);
        const rejoined = this.signaling.peers().some((p) => p.peerId === peerId);
        if (now === e && e.session === session && !rejoined) this.forget(peerId, 'peer left the room');
      },
    );
  }

  /** Ends the link to `peerId` and forgets it (it left the room, or the mesh stops). */
  private forget(peerId: string, reason: string, code: 'peer-gone' | 'cancelled' = 'peer-gone'): void {
    const e = this.peers.take(peerId);
    if (!e) return;
    this.linkTable.remove(peerId, reason);
    this.peers.endLink(peerId, e, reason, { code });
    this.hood?.closed(peerId);
    if (this.running && !this.hood) this.fill();
  }
}
