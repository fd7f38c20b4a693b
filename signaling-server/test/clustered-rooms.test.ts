/**
 * Rooms across instances: two signaling servers share their rooms through a
 * real nats-server (core NATS subjects, NatsRoomBridge), no ledger involved.
 * Peers of one room connected to different instances see each other in
 * welcome and peer-joined/peer-left, exchange signals, a peer id joining on
 * the other instance replaces its connection (4000), the room limit counts
 * both instances, and an instance that vanishes from NATS takes its members'
 * presence with it within one heartbeat period.
 */

import { connect, type NatsConnection } from '@nats-io/transport-node';
import { type NatsCluster, startNats } from '@peerbench/ledger/nats-servers';
import { CloseCode, generateIdentity, type ServerMessage } from '@peerbench/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NatsRoomBridge } from '../src/room-bridge.js';
import { createSignalingServer, type SignalingServer } from '../src/server.js';
import { isSignalFrom, TestClient } from './helpers.js';

/** Short, so "within one heartbeat period" is quick to observe; alive goes out 3× per period. */
const HEARTBEAT_MS = 400;

let nats: NatsCluster | undefined;
const servers: SignalingServer[] = [];
const bridges: NatsRoomBridge[] = [];
const connections: NatsConnection[] = [];
const clients: TestClient[] = [];

beforeAll(async () => {
  nats = await startNats({ size: 1 });
}, 30_000);

afterEach(async () => {
  for (const c of clients.splice(0)) c.ws.terminate();
  await Promise.all(servers.splice(0).map((s) => s.stop()));
  await Promise.all(bridges.splice(0).map((b) => b.stop()));
  await Promise.all(connections.splice(0).map((c) => c.close().catch(() => undefined)));
});

afterAll(async () => {
  await nats?.stop();
});

/** An instance whose bridge uses its own NATS connection (closing it = the instance vanishing from NATS). */
async function instance(
  name: string,
  prefix: string,
  extra: { maxPeersPerRoom?: number } = {},
): Promise<{ server: SignalingServer; nc: NatsConnection }> {
  const nc = await connect({ servers: nats?.urls ?? [] });
  connections.push(nc);
  const bridge = await NatsRoomBridge.open({ connection: nc, instanceId: name, prefix });
  bridges.push(bridge);
  const server = createSignalingServer({
    port: 0,
    heartbeatIntervalMs: HEARTBEAT_MS,
    roomBridge: bridge,
    ...extra,
  });
  await server.start();
  servers.push(server);
  return { server, nc };
}

async function joined(
  server: SignalingServer,
  room: string,
  identity?: Awaited<ReturnType<typeof generateIdentity>>,
) {
  const r = await TestClient.joined(server.url, room, identity);
  clients.push(r.client);
  return r;
}

const peerJoined = (peerId: string) => (m: ServerMessage) =>
  m.type === 'peer-joined' && m.peer.peerId === peerId;
const peerLeft = (peerId: string) => (m: ServerMessage) => m.type === 'peer-left' && m.peerId === peerId;
const prefix = () => `test.rooms.${Math.random().toString(36).slice(2, 8)}`;

describe('rooms across two instances on NATS', () => {
  it('presence, welcome and signals cross instances; a leave and a replacement do too', async () => {
    const p = prefix();
    const { server: s1 } = await instance('s1', p);
    const { server: s2 } = await instance('s2', p);
    const { client: c } = await joined(s2, 'r');
    const { client: a } = await joined(s1, 'r');
    // c (on s2) hears of a (on s1): s2 knows a now.
    await c.next(peerJoined(a.peerId));
    const { client: b, welcome } = await joined(s2, 'r');
    expect(welcome.peers.map((x) => x.peerId).sort()).toEqual([a.peerId, c.peerId].sort());
    await a.next(peerJoined(b.peerId));
    // Signals both ways across the instances; a peer in another room is unknown.
    a.signal(b.peerId, 'a-to-b');
    await b.next(isSignalFrom(a.peerId, 'a-to-b'));
    b.signal(a.peerId, 'b-to-a');
    await a.next(isSignalFrom(b.peerId, 'b-to-a'));
    const { client: elsewhere } = await joined(s2, 'other');
    a.signal(elsewhere.peerId, 'nope');
    expect(await a.nextError()).toBe('unknown-peer');
    // b leaves: a (other instance) is told.
    b.close();
    await a.next(peerLeft(b.peerId));
    // a's key joins on s2: its s1 connection is replaced, as a second local join would be.
    const aIdentity = a.identity;
    if (!aIdentity) throw new Error('test client without identity');
    const { client: a2 } = await joined(s2, 'r', aIdentity);
    expect(await a.nextError()).toBe('duplicate-peer');
    expect((await a.closed).code).toBe(CloseCode.replaced);
    c.signal(a2.peerId, 'c-to-a2');
    await a2.next(isSignalFrom(c.peerId, 'c-to-a2'));
    expect(s1.metrics().peers).toBe(0);
  });

  it('drops junk another process puts on the subjects and keeps relaying', async () => {
    const p = prefix();
    const invalid: string[] = [];
    const nc = await connect({ servers: nats?.urls ?? [] });
    connections.push(nc);
    const bridge = await NatsRoomBridge.open({
      connection: nc,
      instanceId: 's1',
      prefix: p,
      onInvalid: (_subject, reason) => invalid.push(reason),
    });
    bridges.push(bridge);
    const s1 = createSignalingServer({ port: 0, heartbeatIntervalMs: HEARTBEAT_MS, roomBridge: bridge });
    await s1.start();
    servers.push(s1);
    const { server: s2 } = await instance('s2', p);
    const { client: a } = await joined(s1, 'r');
    const { client: b } = await joined(s2, 'r');
    await a.next(peerJoined(b.peerId));
    const junk = [
      [`${p}.presence`, 'not json'],
      [
        `${p}.presence`,
        JSON.stringify({ t: 'join', i: 'x', room: 'r', peer: { peerId: 'ZZ', joinedAtMs: 1 } }),
      ],
      [`${p}.presence`, JSON.stringify({ t: 'alive', i: 'x', room: '../r', peers: [] })],
      [`${p}.presence`, JSON.stringify({ t: 'nuke', i: 'x' })],
      [`${p}.signal.s1`, JSON.stringify({ room: 'r', from: b.peerId, to: a.peerId, data: { type: 'evil' } })],
      [
        `${p}.signal.s1`,
        JSON.stringify({
          room: 'r',
          from: b.peerId,
          to: a.peerId,
          data: { type: 'offer', sdp: 'x'.repeat(40_000) },
        }),
      ],
    ] as const;
    for (const [subject, body] of junk) nc.publish(subject, body);
    await nc.flush();
    // Valid but for nobody here: dropped quietly.
    nc.publish(
      `${p}.signal.s1`,
      JSON.stringify({ room: 'r', from: b.peerId, to: b.peerId, data: { type: 'rollback' } }),
    );
    b.signal(a.peerId, 'after-junk');
    await a.next(isSignalFrom(b.peerId, 'after-junk'));
    expect(invalid.length).toBe(junk.length);
    // Nothing of it reached a client (TestClient parses every message it gets with the protocol's parser).
    expect(a.received.filter((m) => m.type === 'signal')).toHaveLength(1);
  });

  it('counts both instances against the room limit', async () => {
    const p = prefix();
    const { server: s1 } = await instance('s1', p, { maxPeersPerRoom: 2 });
    const { server: s2 } = await instance('s2', p, { maxPeersPerRoom: 2 });
    const { client: a } = await joined(s1, 'small');
    const { client: b } = await joined(s2, 'small');
    await a.next(peerJoined(b.peerId));
    const late = await TestClient.connect(s1.url, { identity: await generateIdentity() });
    clients.push(late);
    const id = late.identity;
    if (!id) throw new Error('no identity');
    late.send({
      type: 'join',
      room: 'small',
      peerId: id.peerId,
      signature: await late.signJoin('small', id),
    });
    expect(await late.nextError()).toBe('room-full');
  });

  it('an instance that vanishes from NATS takes its members with it within one heartbeat period', async () => {
    const p = prefix();
    const { server: s1 } = await instance('s1', p);
    const { nc: nc2, server: s2 } = await instance('s2', p);
    const { client: a } = await joined(s1, 'r');
    const { client: b } = await joined(s2, 'r');
    await a.next(peerJoined(b.peerId));
    // s2 loses NATS without a word (its sockets stay open): s1 stops hearing its alive.
    await nc2.close();
    await a.next(peerLeft(b.peerId), HEARTBEAT_MS * 10);
    // And s1 forgot b: a signal to it is refused.
    a.signal(b.peerId, 'gone');
    expect(await a.nextError()).toBe('unknown-peer');
  });
});
