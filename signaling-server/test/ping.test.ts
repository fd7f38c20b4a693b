/**
 * The client keepalive's server side: `ping {seq}` is answered `pong {seq}`
 * at once, joined or not; a malformed ping is refused with invalid-message
 * and a message naming the field, counted like any message by the rate
 * limits, and the room keeps working for everyone else.
 */
import { SIGNALING_PING_INTERVAL_MS } from '@peerbench/protocol';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MESSAGE_RATE_PER_S } from '../src/options.js';
import { isSignalFrom } from './helpers.js';
import { serverFixture } from './server-fixture.js';

const { startServer, joined, connect } = serverFixture();

describe('client keepalive (ping/pong)', () => {
  it('answers ping with pong of the same seq, before and after joining', async () => {
    const server = await startServer();
    const c = await connect(server);
    c.send({ type: 'ping', seq: 0 });
    expect(await c.next((m) => m.type === 'pong')).toEqual({ type: 'pong', seq: 0 });
    const { client } = await joined(server, 'ping');
    for (const seq of [1, 2, 0xffff_ffff]) client.send({ type: 'ping', seq });
    const pongs = [];
    for (let i = 0; i < 3; i++) pongs.push(await client.next((m) => m.type === 'pong'));
    expect(pongs).toEqual([1, 2, 0xffff_ffff].map((seq) => ({ type: 'pong', seq })));
  });

  it('refuses a malformed ping with invalid-message naming the problem, and keeps relaying for the room', async () => {
    const server = await startServer({ maxAbuseStrikes: 100 });
    const { client: a } = await joined(server, 'bad-ping');
    const { client: b } = await joined(server, 'bad-ping');
    const bad: [unknown, RegExp][] = [
      [{ type: 'ping' }, /seq/],
      [{ type: 'ping', seq: -1 }, /seq must be >= 0/],
      [{ type: 'ping', seq: 1.5 }, /seq must be an integer/],
      [{ type: 'ping', seq: '7' }, /seq must be a number/],
      [{ type: 'ping', seq: 2 ** 32 }, /seq must be <= 4294967295/],
      [{ type: 'ping', seq: 1, extra: true }, /extra/],
    ];
    for (const [msg, why] of bad) {
      a.send(msg);
      const reply = await a.next((m) => m.type === 'error' || m.type === 'pong');
      expect(reply.type).toBe('error');
      if (reply.type === 'error') {
        expect(reply.code).toBe('invalid-message');
        expect(reply.message).toMatch(why);
      }
    }
    expect(server.metrics().rejectedMessagesTotal['invalid-message']).toBe(bad.length);
    a.signal(b.peerId, 'still-here');
    await b.next(isSignalFrom(a.peerId, 'still-here'));
  });

  it('counts pings against the rate limit like any message (a flood is refused), far above the keepalive rate', async () => {
    expect(1000 / SIGNALING_PING_INTERVAL_MS).toBeLessThan(DEFAULT_MESSAGE_RATE_PER_S / 100);
    const server = await startServer({ messageRatePerS: 1, messageBurst: 5, maxAbuseStrikes: 100 });
    const c = await connect(server);
    for (let seq = 0; seq < 8; seq++) c.send({ type: 'ping', seq });
    const replies = [];
    for (let i = 0; i < 8; i++) replies.push(await c.next((m) => m.type === 'pong' || m.type === 'error'));
    expect(replies.filter((m) => m.type === 'pong')).toHaveLength(5);
    expect(replies.filter((m) => m.type === 'error' && m.code === 'rate-limited')).toHaveLength(3);
  });
});
