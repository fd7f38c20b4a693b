/** link-report (validated, counted in /metrics, forgotten on leave) and ice-refresh (fresh TURN credentials). */
import { generateIdentity } from '@peerbench/protocol';
import { describe, expect, it } from 'vitest';
import { iceServersWithTurnCredentials } from '../src/index.js';
import { eventually } from './helpers.js';
import { serverFixture } from './server-fixture.js';

const { startServer, joined, connect } = serverFixture();

const OTHER = 'a'.repeat(64);
const THIRD = 'b'.repeat(64);

describe('link-report', () => {
  it('counts the latest report of each peer by state and connected type, in metrics and /metrics', async () => {
    const server = await startServer();
    const { client: a } = await joined(server, 'lr');
    const { client: b } = await joined(server, 'lr');
    a.send({
      type: 'link-report',
      links: [
        { peerId: OTHER, state: 'connected', type: 'relay' },
        { peerId: THIRD, state: 'failed', type: null },
      ],
    });
    b.send({ type: 'link-report', links: [{ peerId: OTHER, state: 'connected', type: 'direct-srflx' }] });
    await eventually(() => server.metrics().links.byState.connected === 2);
    expect(server.metrics().links).toEqual({
      byState: { connecting: 0, connected: 2, failed: 1 },
      connectedByType: { 'direct-host': 0, 'direct-srflx': 1, 'direct-prflx': 0, relay: 1, unknown: 0 },
    });
    const text = await (await fetch(`${server.httpUrl}/metrics`)).text();
    expect(text).toContain('peerbench_signaling_reported_connected_links{type="relay"} 1');
    expect(text).toContain('peerbench_signaling_reported_links{state="failed"} 1');

    // A new report replaces the old one; a peer that leaves takes its report with it.
    a.send({ type: 'link-report', links: [{ peerId: OTHER, state: 'connecting', type: null }] });
    await eventually(() => server.metrics().links.byState.connecting === 1);
    expect(server.metrics().links.byState).toEqual({ connecting: 1, connected: 1, failed: 0 });
    b.ws.close();
    await eventually(() => server.metrics().links.byState.connected === 0);
    a.send({ type: 'leave' });
    await eventually(() => server.metrics().links.byState.connecting === 0);
  });

  it('refuses bad reports with a code and keeps the previous one', async () => {
    const server = await startServer();
    const { client: a } = await joined(server, 'lr-bad');
    a.send({ type: 'link-report', links: [{ peerId: OTHER, state: 'connected', type: 'relay' }] });
    await eventually(() => server.metrics().links.byState.connected === 1);
    const bad: unknown[] = [
      { type: 'link-report', links: [{ peerId: OTHER, state: 'connected', type: 'carrier-pigeon' }] },
      { type: 'link-report', links: [{ peerId: 'nope', state: 'connected', type: 'relay' }] },
      { type: 'link-report', links: [{ peerId: OTHER, state: 'closed', type: null }] },
      {
        type: 'link-report',
        links: Array.from({ length: 65 }, () => ({ peerId: OTHER, state: 'failed', type: null })),
      },
      { type: 'link-report', links: [{ peerId: OTHER, state: 'failed', type: null, extra: 1 }] },
      { type: 'link-report', links: [{ peerId: a.peerId, state: 'connected', type: 'relay' }] },
      {
        type: 'link-report',
        links: [
          { peerId: OTHER, state: 'connected', type: 'relay' },
          { peerId: OTHER, state: 'failed', type: null },
        ],
      },
    ];
    for (const msg of bad) {
      a.send(msg);
      const reply = await a.next((m) => m.type === 'error');
      expect(reply).toMatchObject({ type: 'error', code: 'invalid-message' });
    }
    expect(server.metrics().links.byState).toEqual({ connecting: 0, connected: 1, failed: 0 });
    expect(server.metrics().rejectedMessagesTotal['invalid-message']).toBe(bad.length);
  });

  it('answers link-report and ice-refresh before a join with not-joined', async () => {
    const server = await startServer();
    const c = await connect(server);
    c.send({ type: 'link-report', links: [] });
    expect(await c.next((m) => m.type === 'error')).toMatchObject({ code: 'not-joined' });
    c.send({ type: 'ice-refresh' });
    expect(await c.next((m) => m.type === 'error')).toMatchObject({ code: 'not-joined' });
  });
});

describe('ice-refresh', () => {
  it('answers with fresh TURN REST credentials for the asking peer', async () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const turn = {
      stunUrls: ['stun:198.18.0.1:3478'],
      turnUrls: ['turn:198.18.0.1:3478'],
      secret: 'a-test-secret-0123456789',
      ttlS: 600,
    };
    const server = await startServer({
      iceServersForPeer: (peerId) => iceServersWithTurnCredentials(turn, peerId, now),
    });
    const id = await generateIdentity();
    const { client, welcome } = await joined(server, 'ice', id);
    now += 3_600_000;
    client.send({ type: 'ice-refresh' });
    const fresh = await client.next((m) => m.type === 'ice-servers');
    expect(fresh.type === 'ice-servers' && fresh.iceServers).toEqual(
      iceServersWithTurnCredentials(turn, id.peerId, now),
    );
    const expiry = (servers: typeof welcome.iceServers) => Number(servers[1]?.username?.split(':')[0]);
    expect(fresh.type === 'ice-servers' && expiry(fresh.iceServers) - expiry(welcome.iceServers)).toBe(3600);
  });
});
