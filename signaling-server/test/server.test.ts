import { CloseCode, generateIdentity, MAX_SIGNALING_MESSAGE_BYTES } from '@peerbench/protocol';
import { describe, expect, it } from 'vitest';
import { createSignalingServer, HARD_MAX_PAYLOAD_BYTES } from '../src/index.js';
import { eventually, isSignalFrom, TestClient } from './helpers.js';
import { serverFixture } from './server-fixture.js';

const { startServer, joined, connect } = serverFixture();

describe('join handshake', () => {
  it('sends a fresh random challenge to every connection', async () => {
    const server = await startServer();
    const a = await connect(server);
    const b = await connect(server);
    expect(a.nonce).toMatch(/^[0-9a-f]{32,}$/);
    expect(a.nonce).not.toBe(b.nonce);
  });

  it('welcomes a correctly signed join with the other peers and the ICE servers', async () => {
    const iceServers = [{ urls: ['stun:stun.example.org:3478'] }];
    const server = await startServer({ iceServers, heartbeatIntervalMs: 12_345 });
    const { client: a, welcome: wa } = await joined(server, 'lab');
    expect(wa.peers).toEqual([]);
    expect(wa.iceServers).toEqual(iceServers);
    expect(wa.heartbeatIntervalMs).toBe(12_345);
    expect(wa.room).toBe('lab');
    const { client: b, welcome: wb } = await joined(server, 'lab');
    expect(wb.peers.map((p) => p.peerId)).toEqual([a.peerId]);
    const announced = await a.next((m) => m.type === 'peer-joined');
    expect(announced.type === 'peer-joined' && announced.peer.peerId).toBe(b.peerId);
  });

  it('refuses a signature by another key, for another room, for another nonce, or of junk', async () => {
    const server = await startServer();
    const victim = await generateIdentity();
    const attacker = await generateIdentity();
    const c = await connect(server);
    // Attacker signs with its own key but claims the victim's id.
    c.send({ type: 'join', room: 'r', peerId: victim.peerId, signature: await c.signJoin('r', attacker) });
    expect(await c.nextError()).toBe('bad-signature');
    // Right key, but signed for a different room.
    c.send({ type: 'join', room: 'r', peerId: victim.peerId, signature: await c.signJoin('other', victim) });
    expect(await c.nextError()).toBe('bad-signature');
    // A signature replayed from another connection (another nonce).
    const other = await connect(server);
    const replayed = await other.signJoin('r', victim);
    c.send({ type: 'join', room: 'r', peerId: victim.peerId, signature: replayed });
    expect(await c.nextError()).toBe('bad-signature');
    // Well-formed hex of the wrong length, and a random 64-byte signature.
    c.send({ type: 'join', room: 'r', peerId: victim.peerId, signature: 'abcd' });
    expect(await c.nextError()).toBe('bad-signature');
    c.send({ type: 'join', room: 'r', peerId: victim.peerId, signature: 'ab'.repeat(64) });
    expect(await c.nextError()).toBe('bad-signature');
    // Not joined after all that: signaling is refused.
    c.signal(attacker.peerId, 'x');
    expect(await c.nextError()).toBe('not-joined');
    expect(server.metrics().peers).toBe(0);
    // The real owner still joins fine.
    const owner = await connect(server);
    const welcome = await owner.join('r', victim);
    expect(welcome.peerId).toBe(victim.peerId);
  });

  it('answers join twice with already-joined, and allows a rejoin after leave', async () => {
    const server = await startServer();
    const id = await generateIdentity();
    const c = await connect(server);
    await c.join('one', id);
    c.send({ type: 'join', room: 'two', peerId: id.peerId, signature: await c.signJoin('two', id) });
    expect(await c.nextError()).toBe('already-joined');
    c.send({ type: 'leave' });
    await eventually(() => server.metrics().peers === 0);
    const welcome = await c.join('two', id);
    expect(welcome.room).toBe('two');
  });

  it('closes a connection that never joins with 4001', async () => {
    const server = await startServer({ joinTimeoutMs: 100 });
    const c = await connect(server);
    expect((await c.closed).code).toBe(CloseCode.joinTimeout);
  });
});

describe('relay and presence', () => {
  it('relays signals between members of one room, never across rooms', async () => {
    const server = await startServer();
    const { client: a } = await joined(server, 'room-a');
    const { client: b } = await joined(server, 'room-a');
    const { client: c } = await joined(server, 'room-c');
    a.signal(b.peerId, 'hello-b');
    const got = await b.next(isSignalFrom(a.peerId, 'hello-b'));
    expect(got.type).toBe('signal');
    b.send({ type: 'signal', to: a.peerId, data: { type: 'offer', sdp: 'v=0' } });
    const offer = await a.next((m) => m.type === 'signal');
    expect(offer).toEqual({ type: 'signal', from: b.peerId, data: { type: 'offer', sdp: 'v=0' } });
    // c knows a's id but is in another room.
    c.signal(a.peerId, 'cross-room');
    expect(await c.nextError()).toBe('unknown-peer');
    a.signal(c.peerId, 'cross-room-2');
    expect(await a.nextError()).toBe('unknown-peer');
    // Signaling oneself is not a relay either.
    a.signal(a.peerId, 'self');
    expect(await a.nextError()).toBe('unknown-peer');
    // Round-trip once more so anything misrouted would have arrived.
    b.signal(a.peerId, 'fence');
    await a.next(isSignalFrom(b.peerId, 'fence'));
    expect(a.received.some((m) => m.type === 'signal' && m.from === c.peerId)).toBe(false);
    expect(c.received.some((m) => m.type === 'signal')).toBe(false);
    expect(server.metrics().relayedMessagesTotal).toBe(3);
  });

  it('announces leaves on leave and on disconnect', async () => {
    const server = await startServer();
    const { client: a } = await joined(server, 'p');
    const { client: b } = await joined(server, 'p');
    const { client: c } = await joined(server, 'p');
    b.send({ type: 'leave' });
    expect(await a.next((m) => m.type === 'peer-left')).toEqual({ type: 'peer-left', peerId: b.peerId });
    c.close();
    expect(await a.next((m) => m.type === 'peer-left')).toEqual({ type: 'peer-left', peerId: c.peerId });
    expect(server.metrics()).toMatchObject({ rooms: 1, peers: 1 });
    a.close();
    await eventually(() => server.metrics().rooms === 0);
  });

  it('replaces an older connection of the same peer id in the same room', async () => {
    const server = await startServer();
    const id = await generateIdentity();
    const { client: watcher } = await joined(server, 'dup');
    const old = await connect(server);
    await old.join('dup', id);
    await watcher.next((m) => m.type === 'peer-joined');
    const fresh = await connect(server);
    const welcome = await fresh.join('dup', id);
    expect(welcome.peers.map((p) => p.peerId)).toEqual([watcher.peerId]);
    expect(await old.nextError()).toBe('duplicate-peer');
    expect(await old.closed).toEqual({ code: CloseCode.replaced, reason: 'replaced' });
    // The others see the old session leave and the new one join.
    expect(await watcher.next((m) => m.type === 'peer-left')).toEqual({
      type: 'peer-left',
      peerId: id.peerId,
    });
    await watcher.next((m) => m.type === 'peer-joined');
    watcher.signal(id.peerId, 'to-fresh');
    await fresh.next(isSignalFrom(watcher.peerId, 'to-fresh'));
    expect(server.metrics().peers).toBe(2);
  });

  it("a room's only member that rejoins stays findable: the next peer meets it and the room is counted once", async () => {
    // Issue 15: the room looked up before the old membership was removed was
    // the one deleted, so the rejoining peer landed in a room nobody could find.
    const server = await startServer();
    const id = await generateIdentity();
    const old = await connect(server);
    await old.join('solo', id);
    const fresh = await connect(server);
    await fresh.join('solo', id);
    expect(await old.closed).toEqual({ code: CloseCode.replaced, reason: 'replaced' });
    expect(server.metrics()).toMatchObject({ rooms: 1, peers: 1 });
    const { client: newcomer, welcome } = await joined(server, 'solo');
    expect(welcome.peers.map((p) => p.peerId)).toEqual([id.peerId]);
    await fresh.next((m) => m.type === 'peer-joined');
    newcomer.signal(id.peerId, 'hello');
    await fresh.next(isSignalFrom(newcomer.peerId, 'hello'));
  });

  it('drops a client that misses two heartbeats and announces its leave', async () => {
    const server = await startServer({ heartbeatIntervalMs: 40 });
    const { client: alive } = await joined(server, 'hb');
    const silent = await connect(server, false);
    await silent.join('hb', await generateIdentity());
    const left = await alive.next((m) => m.type === 'peer-left');
    expect(left).toEqual({ type: 'peer-left', peerId: silent.peerId });
    await silent.closed;
    expect(server.metrics().heartbeatDropsTotal).toBe(1);
    // The client that answers pings survived many intervals and still works.
    expect(alive.isClosed).toBe(false);
    const { client: late } = await joined(server, 'hb');
    late.signal(alive.peerId, 'still-here');
    await alive.next(isSignalFrom(late.peerId, 'still-here'));
  });
});

describe('limits', () => {
  it('rejects oversized messages with message-too-large and closes beyond the hard cap with 1009', async () => {
    const server = await startServer();
    const c = await connect(server);
    c.send(JSON.stringify({ type: 'leave', pad: 'x'.repeat(MAX_SIGNALING_MESSAGE_BYTES) }));
    expect(await c.nextError()).toBe('message-too-large');
    c.send('y'.repeat(HARD_MAX_PAYLOAD_BYTES + 1));
    expect((await c.closed).code).toBe(CloseCode.messageTooBig);
    expect(server.metrics().rejectedMessagesTotal['message-too-large']).toBe(1);
  });

  it('rejects invalid JSON, schema mismatches and binary frames with invalid-message', async () => {
    const server = await startServer();
    const c = await connect(server);
    c.send('{not json');
    expect(await c.nextError()).toBe('invalid-message');
    c.send({ type: 'join', room: 'bad room!', peerId: 'zz', signature: '' });
    expect(await c.nextError()).toBe('invalid-message');
    c.send(new Uint8Array([1, 2, 3]));
    expect(await c.nextError()).toBe('invalid-message');
    expect(server.metrics().rejectedMessagesTotal['invalid-message']).toBe(3);
  });

  it('closes a text frame that is not valid UTF-8 with 1007, leaving the room intact', async () => {
    const server = await startServer();
    const { client: a } = await joined(server, 'utf');
    const { client: b } = await joined(server, 'utf');
    b.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
    expect((await b.closed).code).toBe(1007);
    expect(await a.next((m) => m.type === 'peer-left')).toEqual({ type: 'peer-left', peerId: b.peerId });
    expect(server.metrics().peers).toBe(1);
  });

  it('rate-limits with a token bucket', async () => {
    const server = await startServer({ messageRatePerS: 1, messageBurst: 5, maxAbuseStrikes: 100 });
    const { client: a } = await joined(server, 'rate');
    const { client: b } = await joined(server, 'rate');
    // The join used one token; four more signals pass, the rest are refused.
    for (let i = 0; i < 10; i++) a.signal(b.peerId, `s${i}`);
    await b.next(isSignalFrom(a.peerId, 's3'));
    const codes = await Promise.all(Array.from({ length: 6 }, () => a.nextError()));
    expect(codes).toEqual(Array(6).fill('rate-limited'));
    expect(b.received.filter((m) => m.type === 'signal')).toHaveLength(4);
  });

  it('refuses a join to a full room with room-full', async () => {
    const server = await startServer({ maxPeersPerRoom: 2 });
    await joined(server, 'small');
    await joined(server, 'small');
    const id = await generateIdentity();
    const c = await connect(server);
    c.send({ type: 'join', room: 'small', peerId: id.peerId, signature: await c.signJoin('small', id) });
    expect(await c.nextError()).toBe('room-full');
    // Another room still works for the same connection.
    expect((await c.join('other', id)).room).toBe('other');
  });

  it('refuses a new room beyond maxRooms with too-many-rooms', async () => {
    const server = await startServer({ maxRooms: 1 });
    await joined(server, 'only');
    const id = await generateIdentity();
    const c = await connect(server);
    c.send({ type: 'join', room: 'second', peerId: id.peerId, signature: await c.signJoin('second', id) });
    expect(await c.nextError()).toBe('too-many-rooms');
    expect((await c.join('only', id)).room).toBe('only');
  });

  it('refuses connections beyond the per-address limit with too-many-connections and 1013', async () => {
    const server = await startServer({ maxConnectionsPerIp: 2 });
    const a = await connect(server);
    await connect(server);
    const third = await connect(server);
    expect(await third.nextError()).toBe('too-many-connections');
    expect((await third.closed).code).toBe(CloseCode.tryAgainLater);
    expect(server.metrics().connections).toBe(2);
    a.close();
    await eventually(() => server.metrics().connections === 1);
    const again = await connect(server);
    expect(again.nonce).not.toBe('');
  });

  it('refuses options the protocol cannot carry', () => {
    // A room's size is no longer bound by one message (the welcome is a sample), but the sample is.
    expect(() => createSignalingServer({ maxPeersPerRoom: 100_000 })).not.toThrow();
    expect(() => createSignalingServer({ presenceSampleSize: 10_000 })).toThrow(/presenceSampleSize/);
    expect(() => createSignalingServer({ maxMessageBytes: MAX_SIGNALING_MESSAGE_BYTES + 1 })).toThrow();
    expect(() => createSignalingServer({ port: -1 })).toThrow();
  });
});

describe('abuse', () => {
  it('closes a repeat offender with 1008 while a well-behaved pair in its room keeps relaying', async () => {
    const server = await startServer({ maxAbuseStrikes: 3 });
    const { client: a } = await joined(server, 'shared');
    const { client: b } = await joined(server, 'shared');
    const { client: abuser } = await joined(server, 'shared');
    await a.next((m) => m.type === 'peer-joined' && m.peer.peerId === abuser.peerId);
    for (let i = 0; i < 4; i++) abuser.send(`garbage ${i}`);
    const closed = await abuser.closed;
    expect(closed.code).toBe(CloseCode.policyViolation);
    expect(abuser.received.filter((m) => m.type === 'error')).toHaveLength(4);
    expect(await a.next((m) => m.type === 'peer-left')).toEqual({ type: 'peer-left', peerId: abuser.peerId });
    a.signal(b.peerId, 'after-abuse');
    await b.next(isSignalFrom(a.peerId, 'after-abuse'));
    b.signal(a.peerId, 'reply');
    await a.next(isSignalFrom(b.peerId, 'reply'));
    expect(server.metrics().abuseClosesTotal).toBe(1);
  });

  it('does not count unknown-peer (a benign race) as a strike', async () => {
    const server = await startServer({ maxAbuseStrikes: 1 });
    const { client: a } = await joined(server, 'race');
    const gone = (await generateIdentity()).peerId;
    for (let i = 0; i < 5; i++) {
      a.signal(gone, 'x');
      expect(await a.nextError()).toBe('unknown-peer');
    }
    expect(a.isClosed).toBe(false);
  });
});

describe('HTTP', () => {
  it('serves /health and Prometheus /metrics', async () => {
    const server = await startServer({ maxAbuseStrikes: 100 });
    const { client: a } = await joined(server, 'm');
    const { client: b } = await joined(server, 'm');
    a.signal(b.peerId, 'one');
    await b.next(isSignalFrom(a.peerId, 'one'));
    a.send('junk');
    await a.nextError();
    const health = await fetch(`${server.httpUrl}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ ok: true, connections: 2, rooms: 1, peers: 2 });
    const metrics = await fetch(`${server.httpUrl}/metrics`);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await metrics.text();
    expect(text).toContain('peerbench_signaling_connections 2');
    expect(text).toContain('peerbench_signaling_rooms 1');
    expect(text).toContain('peerbench_signaling_peers 2');
    expect(text).toContain('peerbench_signaling_relayed_messages_total 1');
    expect(text).toContain('peerbench_signaling_rejected_messages_total{code="invalid-message"} 1');
    expect(text).toContain('peerbench_signaling_rejected_messages_total{code="rate-limited"} 0');
    expect(text).toContain('peerbench_signaling_ledger_txs_total{result="accepted"} 0');
    expect(text).toMatch(/process_resident_memory_bytes \d+/);
    expect((await fetch(`${server.httpUrl}/nope`)).status).toBe(404);
    expect((await fetch(`${server.httpUrl}/ledger/head`)).status).toBe(503);
  });
});

describe('graceful stop', () => {
  it('closes every socket with 1001, refuses new connections, and is idempotent', async () => {
    const server = await startServer();
    const { client: a } = await joined(server, 'bye');
    const b = await connect(server);
    const url = server.url;
    await Promise.all([server.stop(), server.stop()]);
    expect((await a.closed).code).toBe(CloseCode.goingAway);
    expect((await b.closed).code).toBe(CloseCode.goingAway);
    await expect(TestClient.connect(url)).rejects.toThrow();
    await server.stop();
  });
});
