/**
 * Rooms: who is in which room, the signed join, leave, presence
 * (`welcome`/`sample`/`peer-joined`/`peer-left`, bounded samples and pushes
 * only where they matter: presence.ts) and the SDP/ICE relay between two
 * members of one room (any two: a peer may link to one it was never told
 * about). A peer id is in a room at most once: a newer connection that
 * proves the same key replaces the older one.
 */
import {
  type ClientMessage,
  CloseCode,
  fromHex,
  type IceServer,
  joinChallengeBytes,
  MAX_SIGNALING_MESSAGE_BYTES,
  type PeerInfo,
  publicKeyFromPeerId,
  type ServerMessage,
  verifySignature,
} from '@peerbench/protocol';
import { type ConnectionHost, errorMessage } from './host.js';
import { PresenceBook, samplePresence } from './presence.js';

export interface Room<C> {
  readonly name: string;
  readonly members: Map<string, C>;
  /** Who was told about whom (peer-left goes to them). */
  readonly presence: PresenceBook<C>;
}

export interface Membership<C> {
  readonly room: Room<C>;
  readonly peerId: string;
  readonly joinedAtMs: number;
}

/** The part of the server's Connection that rooms read and write. */
export interface RoomMember<C> {
  /** The server's challenge nonce for this connection (the join signs it). */
  readonly nonce: string;
  readonly socket: { close(code: number, reason: string): void };
  readonly closed: boolean;
  membership: Membership<C> | null;
}

export interface RoomsOptions {
  readonly maxRooms: number;
  readonly maxPeersPerRoom: number;
  readonly iceServers: readonly IceServer[];
  /** Per-peer ICE servers (fresh TURN credentials in every welcome); overrides iceServers. */
  readonly iceServersForPeer?: ((peerId: string) => IceServer[]) | undefined;
  readonly heartbeatIntervalMs: number;
  /** Most members in a welcome or `sample` answer (presence.ts). */
  readonly presenceSampleSize: number;
}

export type JoinMessage = Extract<ClientMessage, { type: 'join' }>;
export type SignalMessage = Extract<ClientMessage, { type: 'signal' }>;

export class Rooms<C extends RoomMember<C>> {
  /** Local rooms (protected: ClusteredRooms in room-bridge.ts extends them across instances). */
  protected readonly rooms = new Map<string, Room<C>>();

  constructor(
    protected readonly host: ConnectionHost<C>,
    private readonly options: RoomsOptions,
    /** Called when a member leaves its room (the server stops its ledger subscription). */
    private readonly onLeave: (conn: C) => void,
  ) {}

  get size(): number {
    return this.rooms.size;
  }

  /** Members over all rooms. */
  peerCount(): number {
    let peers = 0;
    for (const room of this.rooms.values()) peers += room.members.size;
    return peers;
  }

  /**
   * Verifies the join signature over the room and this connection's nonce,
   * then admits `conn`. Resolves true if it joined (the server then stops its
   * join timer); every refusal was already answered with an error.
   */
  async join(conn: C, msg: JoinMessage): Promise<boolean> {
    if (conn.membership) {
      this.host.reject(
        conn,
        'already-joined',
        `already joined room ${conn.membership.room.name}; leave first`,
      );
      return false;
    }
    let valid = false;
    try {
      valid = await verifySignature(
        publicKeyFromPeerId(msg.peerId),
        joinChallengeBytes(msg.room, conn.nonce),
        fromHex(msg.signature),
      );
    } catch {
      valid = false;
    }
    if (conn.closed || !this.host.running()) return false;
    if (!valid) {
      this.host.reject(conn, 'bad-signature', 'signature does not verify for this peer id, room and nonce');
      return false;
    }
    // Counted once the signature verifies (a bad one is a strike instead):
    // a join fans presence out to the room, so joining and leaving in a loop
    // must not be free, whichever connection of the address does it.
    if (!this.host.spend(conn, 'join')) {
      this.host.reject(conn, 'rate-limited', 'this address is over its join/leave budget');
      return false;
    }
    let room = this.rooms.get(msg.room);
    const previous = room?.members.get(msg.peerId);
    if (!room && this.rooms.size >= this.options.maxRooms) {
      this.host.reject(conn, 'too-many-rooms', `the server is at its ${this.options.maxRooms} rooms`);
      return false;
    }
    const size = (room?.members.size ?? 0) + this.remoteCount(msg.room, msg.peerId);
    if (!previous && size >= this.options.maxPeersPerRoom) {
      this.host.reject(conn, 'room-full', `room ${msg.room} has ${this.options.maxPeersPerRoom} peers`);
      return false;
    }
    if (previous) {
      // The newcomer proved the key with a fresh nonce just now; the old
      // socket is most likely a half-dead one from before a reconnect that
      // the heartbeat has not caught yet. Keeping the old one would lock the
      // real owner out for up to three heartbeat intervals.
      this.replaced(previous);
      // If it was the room's only member, leave() removed the room: look it
      // up again, or the newcomer would land in a room nobody can find.
      room = this.rooms.get(msg.room);
    }
    if (!room) {
      room = { name: msg.room, members: new Map(), presence: new PresenceBook() };
      this.rooms.set(msg.room, room);
    }
    const membership: Membership<C> = { room, peerId: msg.peerId, joinedAtMs: Date.now() };
    const { peers, count } = this.samplePeers(room, msg.peerId);
    room.members.set(msg.peerId, conn);
    conn.membership = membership;
    room.presence.tell(
      conn,
      peers.map((p) => p.peerId),
    );
    this.host.send(conn, {
      type: 'welcome',
      peerId: msg.peerId,
      room: msg.room,
      peers,
      roomSize: count + 1,
      iceServers: this.options.iceServersForPeer?.(msg.peerId) ?? [...this.options.iceServers],
      heartbeatIntervalMs: this.options.heartbeatIntervalMs,
    });
    this.announceJoin(room, conn, { peerId: msg.peerId, joinedAtMs: membership.joinedAtMs }, count + 1);
    return true;
  }

  /** Another random sample of the room for a member that asked (`sample`); spends its address's join budget. */
  sample(conn: C): void {
    const membership = conn.membership;
    if (!membership) {
      this.host.reject(conn, 'not-joined', 'join a room before asking for a sample');
      return;
    }
    if (!this.host.spend(conn, 'join')) {
      this.host.reject(conn, 'rate-limited', 'this address is over its join/sample budget');
      return;
    }
    const { peers, count } = this.samplePeers(membership.room, membership.peerId);
    membership.room.presence.tell(
      conn,
      peers.map((p) => p.peerId),
    );
    this.host.send(conn, { type: 'sample', peers, roomSize: count + 1 });
  }

  /** A random sample of the room's members (local and, clustered, remote) other than `exceptPeerId`, and their count. */
  protected samplePeers(room: Room<C>, exceptPeerId: string): { peers: PeerInfo[]; count: number } {
    const remote = this.remotePeers(room.name, exceptPeerId);
    function* all(): Generator<PeerInfo> {
      for (const [peerId, member] of room.members)
        if (peerId !== exceptPeerId && member.membership)
          yield { peerId, joinedAtMs: member.membership.joinedAtMs };
      yield* remote;
    }
    return samplePresence(all(), this.options.presenceSampleSize);
  }

  /**
   * Tells the room about a new member: every member while the whole room
   * fits in one sample (then every member's sample would have held it),
   * else a uniform random sample of presenceSampleSize members, so a join
   * costs O(sample) messages and a newcomer is still heard of (presence.ts).
   */
  protected announceJoin(room: Room<C>, except: C | undefined, peer: PeerInfo, roomSize: number): void {
    const k = this.options.presenceSampleSize;
    const members = [...room.members.values()].filter((m) => m !== except);
    const told = roomSize <= k + 1 ? members : samplePresence(members, k).peers;
    const text = JSON.stringify({ type: 'peer-joined', peer } satisfies ServerMessage);
    for (const member of told) {
      room.presence.tell(member, [peer.peerId]);
      this.host.sendText(member, text);
    }
  }

  /** Tells the members that know `peerId` that it left, and forgets it. */
  protected announceLeave(room: Room<C>, peerId: string): void {
    const text = JSON.stringify({ type: 'peer-left', peerId } satisfies ServerMessage);
    for (const member of room.presence.watchersOf(peerId))
      if (member.membership?.room === room) this.host.sendText(member, text);
    room.presence.dropPeer(peerId);
  }

  /** Takes `conn` out of its room (if any) and tells the others. */
  leave(conn: C): void {
    const membership = conn.membership;
    if (!membership) return;
    conn.membership = null;
    this.onLeave(conn);
    const { room, peerId } = membership;
    room.presence.dropMember(conn);
    if (room.members.get(peerId) === conn) room.members.delete(peerId);
    if (room.members.size === 0) {
      if (this.rooms.get(room.name) === room) this.rooms.delete(room.name);
      return;
    }
    this.announceLeave(room, peerId);
  }

  /**
   * The same peer id proved its key on another connection (here or on another
   * instance): the newer one wins. The old one is told why, leaves its room
   * and is closed with `replaced`.
   */
  protected replaced(previous: C): void {
    this.host.send(
      previous,
      errorMessage('duplicate-peer', 'this peer id joined the room on another connection'),
    );
    this.leave(previous);
    previous.socket.close(CloseCode.replaced, 'replaced');
  }

  /** Relays an offer/answer/candidate to another member of the sender's room. */
  relay(conn: C, to: string, data: SignalMessage['data']): void {
    const membership = conn.membership;
    if (!membership) {
      this.host.reject(conn, 'not-joined', 'join a room before signaling');
      return;
    }
    const target = to === membership.peerId ? undefined : membership.room.members.get(to);
    // Not a strike: the target may have left a moment ago.
    if (!target) {
      this.host.reject(conn, 'unknown-peer', `no peer ${to} in room ${membership.room.name}`);
      return;
    }
    const text = this.relayedSignalText(conn, membership.peerId, data);
    if (text === undefined) return;
    // Two peers that signal each other know each other: each hears when the other leaves.
    membership.room.presence.tell(conn, [to]);
    membership.room.presence.tell(target, [membership.peerId]);
    if (this.host.sendText(target, text)) this.host.counters.relayedMessagesTotal++;
  }

  /** Members of `room` on other instances (none here; see ClusteredRooms), except `peerId`. */
  protected remotePeers(_room: string, _exceptPeerId: string): Iterable<PeerInfo> {
    return [];
  }

  /** How many members of `room` are on other instances, except `peerId`. */
  protected remoteCount(_room: string, _exceptPeerId: string): number {
    return 0;
  }

  /**
   * The signal as the target receives it, or undefined once `conn` is told it
   * is too large: `from` is two bytes longer than `to`, so a message just
   * under the limit could come out just over it, and the target would refuse it.
   */
  protected relayedSignalText(conn: C, from: string, data: SignalMessage['data']): string | undefined {
    const text = JSON.stringify({ type: 'signal', from, data } satisfies ServerMessage);
    if (
      text.length * 3 > MAX_SIGNALING_MESSAGE_BYTES &&
      Buffer.byteLength(text) > MAX_SIGNALING_MESSAGE_BYTES
    ) {
      this.host.reject(conn, 'message-too-large', 'the relayed signal would exceed the message limit');
      return undefined;
    }
    return text;
  }
}
