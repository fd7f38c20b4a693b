/**
 * Presence that scales (issue 14): a welcome carries a bounded random sample
 * of the room and its size, `sample` asks for another, peer-joined stops
 * being pushed once the room outgrows one sample, and peer-left reaches only
 * the members that were told about the leaver. Real servers on 127.0.0.1
 * (and a real nats-server for the clustered case).
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { type NatsCluster, startNats } from '@peerbench/ledger/nats-servers';
import type { ServerMessage } from '@peerbench/protocol';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createSignalingServer, type SignalingServer, type SignalingServerOptions } from '../src/index.js';
import { PresenceBook, samplePresence } from '../src/presence.js';
import { NatsRoomBridge } from '../src/room-bridge.js';
import { eventually, TestClient } from './helpers.js';

const servers: SignalingServer[] = [];
const clients: TestClient[] = [];
const natsConnections: NatsConnection[] = [];
const bridges: NatsRoomBridge[] = [];
let nats: NatsCluster | undefined;

afterEach(async () => {
  for (const c of clients.splice(0)) c.ws.terminate();
  await Promise.all(servers.splice(0).map((s) => s.stop()));
  await Promise.all(bridges.splice(0).map((b) => b.stop()));
  await Promise.all(natsConnections.splice(0).map((c) => c.close().catch(() => undefined)));
});
afterAll(async () => {
  await nats?.stop();
});

async function server(opts: SignalingServerOptions = {}): Promise<SignalingServer> {
  const s = createSignalingServer({ port: 0, ...opts });
  await s.start();
  servers.push(s);
  return s;
}

async function join(s: SignalingServer, room: string) {
  const r = await TestClient.joined(s.url, room);
  clients.push(r.client);
  return r;
}

type Sample = Extract<ServerMessage, { type: 'sample' }>;
async function sample(c: TestClient): Promise<Sample> {
  c.send({ type: 'sample' });
  return (await c.next((m) => m.type === 'sample')) as Sample;
}

const ids = (peers: { peerId: string }[]) => peers.map((p) => p.peerId);

describe('presence samples', () => {
  it('a welcome holds at most the sample size and says the room size; samples are fresh and cover the room', async () => {
    const s = await server({ presenceSampleSize: 4 });
    const members = [];
    for (let i = 0; i < 12; i++) members.push(await join(s, 'big'));
    const last = members.at(-1);
    if (!last) throw new Error('no members');
    expect(last.welcome.peers.length).toBe(4);
    expect(last.welcome.roomSize).toBe(12);
    expect(ids(last.welcome.peers)).not.toContain(last.client.peerId);
    const everyone = new Set(members.map((m) => m.client.peerId));
    const seen = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const answer = await sample(last.client);
      expect(answer.peers.length).toBe(4);
      expect(answer.roomSize).toBe(12);
      expect(new Set(ids(answer.peers)).size).toBe(4);
      for (const id of ids(answer.peers)) {
        expect(everyone.has(id)).toBe(true);
        seen.add(id);
      }
    }
    // 11 others, 4 per sample, 40 samples: missing one has probability ~1e-7.
    expect(seen.size).toBe(11);
    expect(seen.has(last.client.peerId)).toBe(false);
  });

  it('a small room is told everything as before; in a big one a join reaches a sample of members, and peer-left only those told', async () => {
    const s = await server({ presenceSampleSize: 2 });
    const a = await join(s, 'r');
    const b = await join(s, 'r');
    // Room of 2 ≤ sample + 1: a hears about b.
    await a.client.next((m) => m.type === 'peer-joined' && m.peer.peerId === b.client.peerId);
    const c = await join(s, 'r');
    await a.client.next((m) => m.type === 'peer-joined' && m.peer.peerId === c.client.peerId);
    // The 4th member makes the room bigger than one sample: a random 2 of the 3 others are told.
    const d = await join(s, 'r');
    expect(d.welcome.roomSize).toBe(4);
    expect(d.welcome.peers.length).toBe(2);
    const heard = (m: { client: TestClient }, type: 'peer-joined' | 'peer-left', peerId: string) =>
      m.client.received.some(
        (x) => x.type === type && (x.type === 'peer-joined' ? x.peer.peerId : x.peerId) === peerId,
      );
    // A barrier: anything the server sent m before this answer has arrived.
    for (const m of [a, b, c]) await sample(m.client);
    expect([a, b, c].filter((m) => heard(m, 'peer-joined', d.client.peerId))).toHaveLength(2);
    // e joins a room of 5 (2 of the 4 are told); a signals e, so a and e know each other from here on.
    const e = await join(s, 'r');
    a.client.signal(e.client.peerId, 'hello');
    await e.client.next((m) => m.type === 'signal' && m.from === a.client.peerId);
    e.client.close();
    await a.client.next((m) => m.type === 'peer-left' && m.peerId === e.client.peerId);
    for (const m of [b, c, d]) await sample(m.client);
    expect([a, b, c, d].filter((m) => heard(m, 'peer-joined', e.client.peerId))).toHaveLength(2);
    // peer-left reached exactly those told about e: the two told of its join, and a (it signaled e).
    for (const m of [b, c, d])
      expect(heard(m, 'peer-left', e.client.peerId)).toBe(heard(m, 'peer-joined', e.client.peerId));
    // Whoever is in d's welcome sample and leaves is announced to d.
    const known = d.welcome.peers[0]?.peerId;
    const leaver = [a, b, c].find((m) => m.client.peerId === known);
    leaver?.client.close();
    await d.client.next((m) => m.type === 'peer-left' && m.peerId === known);
  });

  it('sample needs a join, and spends the address join budget', async () => {
    const s = await server({ addressBudgets: { join: { ratePerS: 0, burst: 3 } } });
    const lone = await TestClient.connect(s.url);
    clients.push(lone);
    lone.send({ type: 'sample' });
    expect(await lone.nextError()).toBe('not-joined');
    const a = await join(s, 'budget'); // 1 of 3
    expect((await sample(a.client)).roomSize).toBe(1); // 2
    expect((await sample(a.client)).peers).toEqual([]); // 3
    a.client.send({ type: 'sample' });
    expect(await a.client.nextError()).toBe('rate-limited');
  });

  it('the room limit is configuration, not the welcome size: 520 members (the old ceiling was 500)', async () => {
    const plenty = { ratePerS: 1_000, burst: 10_000 };
    const s = await server({
      maxPeersPerRoom: 520,
      presenceSampleSize: 8,
      maxConnectionsPerIp: 1_000,
      addressBudgets: { connection: plenty, join: plenty },
    });
    const welcomes = [];
    for (let i = 0; i < 520; i += 40)
      welcomes.push(...(await Promise.all(Array.from({ length: 40 }, () => join(s, 'crowd')))));
    expect(Math.max(...welcomes.map((w) => w.welcome.roomSize ?? 0))).toBe(520);
    expect(Math.max(...welcomes.map((w) => w.welcome.peers.length))).toBe(8);
    await expect(join(s, 'crowd')).rejects.toThrow(/room-full/);
  }, 60_000);

  it('GET /config names the public room; a bad name is refused at start-up', async () => {
    const s = await server({ publicRoom: 'everyone' });
    const res = await fetch(`${s.httpUrl}/config`);
    expect(await res.json()).toEqual({ publicRoom: 'everyone', presenceSampleSize: 32 });
    const d = await server();
    expect(((await (await fetch(`${d.httpUrl}/config`)).json()) as { publicRoom: string }).publicRoom).toBe(
      'public',
    );
    expect(() => createSignalingServer({ publicRoom: 'not a room!' })).toThrow(/publicRoom/);
  });

  it("GET /config announces the operator's D when set; an out-of-range D is refused at start-up", async () => {
    const s = await server({ degree: 3 });
    expect(await (await fetch(`${s.httpUrl}/config`)).json()).toEqual({
      publicRoom: 'public',
      presenceSampleSize: 32,
      degree: 3,
    });
    for (const degree of [0, 33, 2.5, Number.NaN])
      expect(() => createSignalingServer({ degree })).toThrow(/degree must be a whole number from 1 to 32/);
  });
});

describe('sampling across clustered instances', () => {
  it('samples and room size span both instances; a remote leave reaches who knew it', async () => {
    nats ??= await startNats({ size: 1 });
    const prefix = `test.sample.${Math.random().toString(36).slice(2, 8)}`;
    const pair: SignalingServer[] = [];
    for (const name of ['s1', 's2']) {
      const nc = await connect({ servers: nats.urls });
      natsConnections.push(nc);
      const bridge = await NatsRoomBridge.open({ connection: nc, instanceId: name, prefix });
      bridges.push(bridge);
      pair.push(await server({ roomBridge: bridge, presenceSampleSize: 3, heartbeatIntervalMs: 400 }));
    }
    const [s1, s2] = pair as [SignalingServer, SignalingServer];
    const on1 = [];
    for (let i = 0; i < 4; i++) on1.push(await join(s1, 'x'));
    const on2 = await join(s2, 'x');
    // s2 has heard of s1's members by the time a fresh sample counts them.
    await eventually(async () => (await sample(on2.client)).roomSize === 5);
    const answer = await sample(on2.client);
    expect(answer.peers.length).toBe(3);
    for (const id of ids(answer.peers)) expect(on1.map((m) => m.client.peerId)).toContain(id);
    const gone = on1.find((m) => m.client.peerId === answer.peers[0]?.peerId);
    gone?.client.close();
    await on2.client.next((m) => m.type === 'peer-left' && m.peerId === gone?.client.peerId);
  }, 30_000);
});

describe('PresenceBook', () => {
  it('bounds what one member is remembered to know, forgetting the oldest', () => {
    const book = new PresenceBook<string>(3);
    book.tell('m', ['a', 'b', 'c']);
    book.tell('m', ['a', 'd']); // a refreshed, b the oldest now: forgotten
    expect(book.watchersOf('b')).toEqual([]);
    expect(book.watchersOf('a')).toEqual(['m']);
    expect(book.size()).toBe(3);
    book.dropMember('m');
    expect(book.size()).toBe(0);
    expect(book.watchersOf('a')).toEqual([]);
  });

  it('samples uniformly without repeats', () => {
    const counts = new Map<string, number>();
    let seed = 1;
    const random = () => {
      seed = (seed * 16807) % 2147483647;
      return seed / 2147483647;
    };
    const members = Array.from({ length: 10 }, (_, i) => ({ peerId: String(i), joinedAtMs: 0 }));
    for (let r = 0; r < 5000; r++) {
      const { peers, count } = samplePresence(members, 3, random);
      expect(count).toBe(10);
      expect(new Set(ids(peers)).size).toBe(3);
      for (const p of peers) counts.set(p.peerId, (counts.get(p.peerId) ?? 0) + 1);
    }
    // Each member expected 1500 times; a biased sampler would be far off.
    expect(counts.size).toBe(10);
    for (const c of counts.values()) expect(Math.abs(c - 1500)).toBeLessThan(150);
  });
});
