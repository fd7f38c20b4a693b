/**
 * Property/fuzz test: abusive clients throw more than 10,000 random and
 * mutated messages at a real server (random JSON, mutated valid messages,
 * binary junk, invalid UTF-8, huge strings). Properties: the server never
 * crashes, only ever sends valid protocol (every client parses what it gets
 * with parseServerMessage), and well-behaved clients, in the abusers' room and
 * in another room, keep getting their signals relayed throughout.
 */
import { generateIdentity, type Identity, MAX_SIGNALING_MESSAGE_BYTES } from '@peerbench/protocol';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSignalingServer,
  HARD_MAX_PAYLOAD_BYTES,
  type LedgerHook,
  type SignalingServer,
} from '../src/index.js';
import { isSignalFrom, TestClient } from './helpers.js';

const MESSAGES_PER_RUN = 100;
const RUNS = 110; // 11,000 fuzz messages in total
const SEED = 20_260_415;

type Fuzz = { text: string } | { binary: Uint8Array };

const hex = (min: number, max: number) =>
  fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: min, maxLength: max });

const fakeLedger: LedgerHook = {
  async submitTx(tx) {
    return typeof tx === 'object' && tx !== null
      ? { ok: true }
      : { ok: false, code: 'malformed', message: 'no' };
  },
  async blocksFrom(from, limit) {
    return Array.from({ length: Math.max(0, Math.min(limit, 3 - from)) }, (_, i) => ({ height: from + i }));
  },
  onBlock() {
    return () => {};
  },
  async handleHttp() {
    return false;
  },
};

/** Messages a correct client could send, with ids the server knows mixed with random ones. */
function validMessages(knownIds: string[]): fc.Arbitrary<Record<string, unknown>> {
  const peerId = fc.oneof(fc.constantFrom(...knownIds), hex(64, 64));
  const room = fc.oneof(fc.constantFrom('good', 'calm', 'fuzz'), fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/));
  const signalData = fc.oneof(
    fc.record({ type: fc.constantFrom('offer', 'answer'), sdp: fc.string({ maxLength: 200 }) }),
    fc.record({
      type: fc.constant('candidate'),
      candidate: fc.record({
        candidate: fc.string({ maxLength: 100 }),
        sdpMid: fc.option(fc.string({ maxLength: 8 })),
        sdpMLineIndex: fc.option(fc.integer({ min: 0, max: 64 })),
      }),
    }),
    fc.constant({ type: 'renegotiate', renegotiate: true }),
    fc.record({
      type: fc.constant('transceiverRequest'),
      transceiverRequest: fc.record({ kind: fc.constantFrom('audio', 'video') }),
    }),
  );
  return fc.oneof(
    fc.record({ type: fc.constant('join'), room, peerId, signature: hex(0, 128) }),
    fc.constant({ type: 'leave' }),
    fc.record({ type: fc.constant('signal'), to: peerId, data: signalData }),
    fc.record({
      type: fc.constant('ledger-tx'),
      requestId: fc.string({ minLength: 1, maxLength: 64 }),
      tx: fc.jsonValue(),
    }),
    fc.record({ type: fc.constant('ledger-subscribe'), fromHeight: fc.nat(10) }),
  );
}

/** Character-level mutations of a serialized message. */
const mutation = fc.oneof(
  fc.record({
    op: fc.constant('flip' as const),
    at: fc.nat(),
    ch: fc.string({ minLength: 1, maxLength: 1, unit: 'binary' }),
  }),
  fc.record({
    op: fc.constant('insert' as const),
    at: fc.nat(),
    s: fc.string({ maxLength: 8, unit: 'binary' }),
  }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
);

type Mutation = { op: string; at: number; ch?: string; s?: string; n?: number };

function mutate(text: string, muts: Mutation[]): string {
  let out = text;
  for (const m of muts) {
    const at = out.length === 0 ? 0 : m.at % out.length;
    if (m.op === 'flip') out = out.slice(0, at) + (m.ch ?? '') + out.slice(at + 1);
    else if (m.op === 'insert') out = out.slice(0, at) + (m.s ?? '') + out.slice(at);
    else if (m.op === 'delete') out = out.slice(0, at) + out.slice(at + (m.n ?? 1));
    else out = out.slice(0, at);
  }
  return out;
}

function fuzzMessages(knownIds: string[]): fc.Arbitrary<Fuzz> {
  const valid = validMessages(knownIds);
  return fc.oneof(
    // Valid messages: they must work even from abusers (bad signatures fail).
    { weight: 4, arbitrary: valid.map((m) => ({ text: JSON.stringify(m) })) },
    // Valid shapes with one field replaced by any JSON value or an extra field.
    {
      weight: 6,
      arbitrary: fc
        .tuple(valid, fc.string({ maxLength: 12 }), fc.jsonValue(), fc.boolean())
        .map(([m, key, value, replace]) => {
          const keys = Object.keys(m);
          const k = replace && keys.length > 0 ? (keys[key.length % keys.length] as string) : key;
          return { text: JSON.stringify({ ...m, [k]: value }) };
        }),
    },
    // Serialized valid messages with characters flipped, inserted, deleted, cut.
    {
      weight: 6,
      arbitrary: fc
        .tuple(valid, fc.array(mutation, { minLength: 1, maxLength: 4 }))
        .map(([m, muts]) => ({ text: mutate(JSON.stringify(m), muts) })),
    },
    { weight: 4, arbitrary: fc.json().map((text) => ({ text })) },
    {
      weight: 2,
      arbitrary: fc
        .record({
          type: fc.oneof(fc.constantFrom('join', 'signal', 'leave', 'ledger-tx', 'welcome'), fc.string()),
        })
        .chain((base) =>
          fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue()).map((d) => ({ ...d, ...base })),
        )
        .map((m) => ({ text: JSON.stringify(m) })),
    },
    { weight: 2, arbitrary: fc.string({ maxLength: 300, unit: 'binary' }).map((text) => ({ text })) },
    { weight: 3, arbitrary: fc.uint8Array({ maxLength: 2048 }).map((binary) => ({ binary })) },
    // Huge: around and over the protocol limit (error reply, connection kept).
    {
      weight: 1,
      arbitrary: fc
        .integer({ min: MAX_SIGNALING_MESSAGE_BYTES - 64, max: MAX_SIGNALING_MESSAGE_BYTES * 2 })
        .map((n) => ({
          text: JSON.stringify({
            type: 'signal',
            to: knownIds[0],
            data: { type: 'offer', sdp: 'x'.repeat(n) },
          }),
        })),
    },
  );
}

describe('fuzz: abusive clients against a real server', () => {
  let server: SignalingServer;
  let a: TestClient;
  let b: TestClient;
  let c: TestClient;
  let d: TestClient;
  let abuserIds: Identity[];

  beforeAll(async () => {
    // A huge strike budget and rate so every fuzz message reaches the parser
    // and the handlers instead of being cut short by the 1008 close (that path
    // is tested on its own in server.test.ts and below).
    server = createSignalingServer({
      host: '127.0.0.1',
      port: 0,
      ledger: fakeLedger,
      maxAbuseStrikes: 1_000_000,
      messageRatePerS: 1_000_000,
      messageBurst: 1_000_000,
      // All clients share 127.0.0.1: the per-address budgets are lifted too.
      addressBudgets: {
        join: { ratePerS: 1_000_000, burst: 1_000_000 },
        tx: { ratePerS: 1_000_000, burst: 1_000_000 },
      },
    });
    await server.start();
    ({ client: a } = await TestClient.joined(server.url, 'good'));
    ({ client: b } = await TestClient.joined(server.url, 'good'));
    ({ client: c } = await TestClient.joined(server.url, 'calm'));
    ({ client: d } = await TestClient.joined(server.url, 'calm'));
    abuserIds = await Promise.all([generateIdentity(), generateIdentity()]);
  });

  afterAll(async () => {
    for (const x of [a, b, c, d]) x?.ws.terminate();
    await server?.stop();
  });

  it('survives 11,000 random and mutated messages while relaying for well-behaved clients', async () => {
    const knownIds = [a.peerId, b.peerId, c.peerId, d.peerId, ...abuserIds.map((i) => i.peerId)];
    const [x0, x1] = abuserIds as [Identity, Identity];
    // Abusers: one joined in the good clients' room, one in its own room,
    // one never joined. They are rejoined whenever a fuzzed `leave` or
    // `join` took them out.
    const abusers: { client: TestClient; room?: string; id?: Identity }[] = [
      { client: await TestClient.connect(server.url), room: 'good', id: x0 },
      { client: await TestClient.connect(server.url), room: 'fuzz', id: x1 },
      { client: await TestClient.connect(server.url) },
    ];
    let sent = 0;
    let roundTrips = 0;
    let fences = 0;
    /** Resolves once the server has processed everything sent so far on `x`. */
    const fence = async (x: TestClient) => {
      const requestId = `fence-${fences++}`;
      x.send({ type: 'ledger-tx', requestId, tx: {} });
      const reply = await x.next((m) => 'requestId' in m && m.requestId === requestId);
      x.inbox.length = 0;
      return reply;
    };
    for (const x of abusers) if (x.room && x.id) await x.client.join(x.room, x.id);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fuzzMessages(knownIds), { minLength: MESSAGES_PER_RUN, maxLength: MESSAGES_PER_RUN }),
        async (messages) => {
          messages.forEach((m, i) => {
            const abuser = abusers[i % abusers.length]?.client as TestClient;
            abuser.send('text' in m ? m.text : m.binary);
            sent++;
          });
          // Relay for the well-behaved pairs while the junk is being processed.
          const token = `rt-${roundTrips++}`;
          a.signal(b.peerId, token);
          c.signal(d.peerId, token);
          d.signal(c.peerId, token);
          b.signal(a.peerId, token);
          await Promise.all([
            b.next(isSignalFrom(a.peerId, token)),
            d.next(isSignalFrom(c.peerId, token)),
            c.next(isSignalFrom(d.peerId, token)),
            a.next(isSignalFrom(b.peerId, token)),
          ]);
          for (const x of abusers) {
            const reply = await fence(x.client);
            if (x.room && x.id && reply.type === 'error' && reply.code === 'not-joined')
              await x.client.join(x.room, x.id);
          }
          // Keep the good clients' inboxes from growing with abusers' noise.
          for (const x of [a, b, c, d]) x.inbox.length = 0;
          return [a, b, c, d, ...abusers.map((x) => x.client)].every((x) => !x.isClosed);
        },
      ),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
    // And one message over ws's hard cap: that connection alone is closed with 1009.
    const last = abusers[2]?.client as TestClient;
    last.send('z'.repeat(HARD_MAX_PAYLOAD_BYTES + 1));
    expect((await last.closed).code).toBe(1009);
    for (const x of abusers) x.client.ws.terminate();
    expect(roundTrips).toBe(RUNS);
    expect(sent).toBeGreaterThanOrEqual(10_000);
    const m = server.metrics();
    expect(m.messagesReceivedTotal).toBeGreaterThanOrEqual(10_000);
    expect(m.rejectedMessagesTotal['invalid-message']).toBeGreaterThan(1_000);
    expect(m.rejectedMessagesTotal['message-too-large']).toBeGreaterThan(0);
    expect(m.rejectedMessagesTotal['bad-signature']).toBeGreaterThan(0);
    expect(m.rejectedMessagesTotal.internal).toBe(0);
    // The server is still fully up: a newcomer joins and relays.
    const { client: late } = await TestClient.joined(server.url, 'good');
    late.signal(a.peerId, 'after-fuzz');
    await a.next(isSignalFrom(late.peerId, 'after-fuzz'));
    late.ws.terminate();
  }, 60_000);

  it('closes abusers with 1008 under default limits while the same room keeps relaying', async () => {
    const strict = createSignalingServer({ host: '127.0.0.1', port: 0, ledger: fakeLedger });
    await strict.start();
    try {
      const { client: p } = await TestClient.joined(strict.url, 'good');
      const { client: q } = await TestClient.joined(strict.url, 'good');
      const junk = fc.sample(fuzzMessages([p.peerId, q.peerId]), { numRuns: 1_200, seed: SEED + 1 });
      let closes1008 = 0;
      let abuser = (await TestClient.joined(strict.url, 'good')).client;
      for (let i = 0; i < junk.length; i += 20) {
        for (const m of junk.slice(i, i + 20)) abuser.send('text' in m ? m.text : m.binary);
        // Wait until the server either closed the abuser or answered a fence.
        const requestId = `fence-${i}`;
        abuser.send({ type: 'ledger-tx', requestId, tx: {} });
        const outcome = await Promise.race([
          abuser.closed,
          abuser.next((m) => 'requestId' in m && m.requestId === requestId).then(() => undefined),
        ]);
        if (outcome) {
          expect(outcome.code).toBe(1008);
          closes1008++;
          abuser = (await TestClient.joined(strict.url, 'good')).client;
        }
        abuser.inbox.length = 0;
        p.signal(q.peerId, `strict-${i}`);
        await q.next(isSignalFrom(p.peerId, `strict-${i}`));
        q.signal(p.peerId, `strict-${i}`);
        await p.next(isSignalFrom(q.peerId, `strict-${i}`));
        p.inbox.length = 0;
        q.inbox.length = 0;
      }
      abuser.ws.terminate();
      expect(closes1008).toBeGreaterThan(10);
      expect(strict.metrics().abuseClosesTotal).toBe(closes1008);
      expect(p.isClosed || q.isClosed).toBe(false);
      p.ws.terminate();
      q.ws.terminate();
    } finally {
      await strict.stop();
    }
  }, 60_000);
});
