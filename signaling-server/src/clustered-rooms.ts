/**
 * Rooms that span signaling server instances (clustered mode): the local
 * rooms of rooms.ts, plus a roster of the members connected to other
 * instances, kept from the presence the instances exchange over a RoomBridge
 * (room-bridge.ts, NATS). To a client nothing changes: its welcome and
 * `sample` answers are drawn from the room's members on every instance (and
 * `roomSize` counts them all), it gets peer-joined/peer-left for them under
 * the same rules as for local ones (presence.ts), and its signals to them
 * are relayed through the bridge.
 *
 *   - join: the room's limit counts remote members; a peer id that joins here
 *     while connected to another instance replaces that connection there
 *     (duplicate-peer, 4000), as a second local join does.
 *   - alive: every instance lists its members of each room ALIVE_PER_HEARTBEAT
 *     times per heartbeat period; a remote member not listed for one period
 *     is dropped with peer-left, so a dead instance takes its members'
 *     presence with it within one heartbeat period.
 *   - alive lists are split into messages of at most MAX_ALIVE_PEERS; a room
 *     that needs several is marked `partial`, and then a member missing from
 *     one part is not taken as gone (only the expiry and `leave` remove it).
 *   - maxRooms stays per instance (it bounds this process's memory).
 */
import { MAX_SIGNALING_MESSAGE_BYTES, type PeerInfo, type ServerMessage } from '@peerbench/protocol';
import type { ConnectionHost } from './host.js';
import {
  type BridgedSignal,
  MAX_ALIVE_PEERS,
  type PresenceMessage,
  type RoomBridge,
  type RoomBridgeHandler,
} from './room-bridge.js';
import { type JoinMessage, type RoomMember, Rooms, type RoomsOptions, type SignalMessage } from './rooms.js';

/** Alive announcements per heartbeat period; a remote member unseen for a whole period is gone. */
export const ALIVE_PER_HEARTBEAT = 3;

interface RemoteMember {
  instanceId: string;
  joinedAtMs: number;
  seenAtMs: number;
}

export class ClusteredRooms<C extends RoomMember<C>> extends Rooms<C> implements RoomBridgeHandler {
  /** room → peer id → where it is connected. */
  private readonly remote = new Map<string, Map<string, RemoteMember>>();
  private readonly timer: NodeJS.Timeout;
  private readonly expiryMs: number;

  constructor(
    host: ConnectionHost<C>,
    options: RoomsOptions,
    onLeave: (conn: C) => void,
    private readonly bridge: RoomBridge,
    private readonly now: () => number = Date.now,
  ) {
    super(host, options, onLeave);
    this.expiryMs = options.heartbeatIntervalMs;
    this.timer = setInterval(
      () => this.tick(),
      Math.max(1, options.heartbeatIntervalMs / ALIVE_PER_HEARTBEAT),
    );
    this.timer.unref();
    bridge.attach(this);
  }

  /** Members connected to other instances (over all rooms). */
  remotePeerCount(): number {
    let n = 0;
    for (const members of this.remote.values()) n += members.size;
    return n;
  }

  override async join(conn: C, msg: JoinMessage): Promise<boolean> {
    const joined = await super.join(conn, msg);
    if (joined && conn.membership) {
      // Local now: the other instance's connection is replaced when it sees this join.
      this.remote.get(msg.room)?.delete(msg.peerId);
      this.bridge.publishPresence({
        t: 'join',
        room: msg.room,
        peer: { peerId: msg.peerId, joinedAtMs: conn.membership.joinedAtMs },
      });
    }
    return joined;
  }

  override leave(conn: C): void {
    const membership = conn.membership;
    super.leave(conn);
    if (membership)
      this.bridge.publishPresence({ t: 'leave', room: membership.room.name, peerId: membership.peerId });
  }

  override relay(conn: C, to: string, data: SignalMessage['data']): void {
    const membership = conn.membership;
    const remote =
      membership && to !== membership.peerId && !membership.room.members.has(to)
        ? this.remote.get(membership.room.name)?.get(to)
        : undefined;
    if (!membership || !remote) {
      super.relay(conn, to, data);
      return;
    }
    const text = this.relayedSignalText(conn, membership.peerId, data);
    if (text === undefined) return;
    membership.room.presence.tell(conn, [to]);
    this.bridge.sendSignal(remote.instanceId, {
      room: membership.room.name,
      from: membership.peerId,
      to,
      data,
    });
    this.host.counters.relayedMessagesTotal++;
  }

  protected override *remotePeers(room: string, exceptPeerId: string): Generator<PeerInfo> {
    const members = this.remote.get(room);
    if (!members) return;
    const local = this.rooms.get(room)?.members;
    for (const [peerId, m] of members)
      if (peerId !== exceptPeerId && !local?.has(peerId)) yield { peerId, joinedAtMs: m.joinedAtMs };
  }

  protected override remoteCount(room: string, exceptPeerId: string): number {
    let n = 0;
    for (const _ of this.remotePeers(room, exceptPeerId)) n++;
    return n;
  }

  // ---- from the bridge ------------------------------------------------------

  presence(msg: PresenceMessage): void {
    if (msg.t === 'sync') {
      this.announceAll();
      return;
    }
    if (msg.t === 'join') {
      this.remoteJoined(msg.room, msg.peer, msg.i);
      return;
    }
    if (msg.t === 'leave') {
      const entry = this.remote.get(msg.room)?.get(msg.peerId);
      // Only the instance it is connected to can take it out (a replaced connection's late leave cannot).
      if (entry?.instanceId === msg.i) this.remoteLeft(msg.room, msg.peerId);
      return;
    }
    const listed = new Set<string>();
    for (const peer of msg.peers) {
      listed.add(peer.peerId);
      const entry = this.remote.get(msg.room)?.get(peer.peerId);
      if (entry?.instanceId === msg.i) entry.seenAtMs = this.now();
      else if (!entry && !this.rooms.get(msg.room)?.members.has(peer.peerId))
        this.remoteJoined(msg.room, peer, msg.i);
    }
    if (msg.partial) return;
    for (const [peerId, entry] of this.remote.get(msg.room) ?? [])
      if (entry.instanceId === msg.i && !listed.has(peerId)) this.remoteLeft(msg.room, peerId);
  }

  signal(msg: BridgedSignal): void {
    const target = this.rooms.get(msg.room)?.members.get(msg.to);
    // The target left meanwhile: dropped, as a signal to a socket that just closed.
    if (!target?.membership) return;
    target.membership.room.presence.tell(target, [msg.from]);
    const text = JSON.stringify({ type: 'signal', from: msg.from, data: msg.data } satisfies ServerMessage);
    if (Buffer.byteLength(text) > MAX_SIGNALING_MESSAGE_BYTES) return;
    if (this.host.sendText(target, text)) this.host.counters.relayedMessagesTotal++;
  }

  detach(): void {
    clearInterval(this.timer);
    for (const [room, members] of this.remote)
      for (const peerId of [...members.keys()]) this.remoteLeft(room, peerId);
  }

  // ---- internals ---------------------------------------------------------------

  private remoteJoined(roomName: string, peer: PeerInfo, instanceId: string): void {
    const local = this.rooms.get(roomName)?.members.get(peer.peerId);
    // The same key proved itself to another instance just now: that connection wins, as locally.
    if (local) this.replaced(local);
    let members = this.remote.get(roomName);
    if (!members) {
      members = new Map();
      this.remote.set(roomName, members);
    }
    members.set(peer.peerId, { instanceId, joinedAtMs: peer.joinedAtMs, seenAtMs: this.now() });
    const room = this.rooms.get(roomName);
    if (room) this.announceJoin(room, undefined, peer, room.members.size + members.size);
  }

  private remoteLeft(roomName: string, peerId: string): void {
    const members = this.remote.get(roomName);
    if (!members?.delete(peerId)) return;
    if (members.size === 0) this.remote.delete(roomName);
    const room = this.rooms.get(roomName);
    if (room) this.announceLeave(room, peerId);
  }

  private announceAll(): void {
    for (const room of this.rooms.values()) {
      const peers: PeerInfo[] = [];
      for (const [peerId, member] of room.members)
        if (member.membership) peers.push({ peerId, joinedAtMs: member.membership.joinedAtMs });
      if (peers.length <= MAX_ALIVE_PEERS) {
        this.bridge.publishPresence({ t: 'alive', room: room.name, peers });
        continue;
      }
      for (let i = 0; i < peers.length; i += MAX_ALIVE_PEERS)
        this.bridge.publishPresence({
          t: 'alive',
          room: room.name,
          peers: peers.slice(i, i + MAX_ALIVE_PEERS),
          partial: true,
        });
    }
  }

  private tick(): void {
    this.announceAll();
    const oldest = this.now() - this.expiryMs;
    for (const [room, members] of this.remote)
      for (const [peerId, entry] of members) if (entry.seenAtMs < oldest) this.remoteLeft(room, peerId);
  }
}
