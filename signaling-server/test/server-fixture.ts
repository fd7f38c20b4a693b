/**
 * The servers and clients a test starts, all stopped after it: call
 * `serverFixture()` at the top level of a test file (it registers the
 * afterEach that terminates the clients and stops the servers).
 */
import type { Identity } from '@peerbench/protocol';
import { afterEach } from 'vitest';
import { createSignalingServer, type SignalingServer, type SignalingServerOptions } from '../src/index.js';
import { TestClient } from './helpers.js';

export interface ServerFixture {
  /** A server on 127.0.0.1 and a free port, started. */
  startServer(opts?: SignalingServerOptions): Promise<SignalingServer>;
  /** A client joined to `room` (a fresh identity unless given). */
  joined(server: SignalingServer, room: string, identity?: Identity): ReturnType<typeof TestClient.joined>;
  /** A client connected but not joined; `autoPong: false` lets it miss heartbeats. */
  connect(server: SignalingServer, autoPong?: boolean): Promise<TestClient>;
}

export function serverFixture(): ServerFixture {
  const servers: SignalingServer[] = [];
  const clients: TestClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.ws.terminate();
    await Promise.all(servers.splice(0).map((s) => s.stop()));
  });
  return {
    async startServer(opts = {}) {
      const server = createSignalingServer({ host: '127.0.0.1', port: 0, ...opts });
      await server.start();
      servers.push(server);
      return server;
    },
    async joined(server, room, identity) {
      const r = await TestClient.joined(server.url, room, identity);
      clients.push(r.client);
      return r;
    },
    async connect(server, autoPong = true) {
      const c = await TestClient.connect(server.url, { autoPong });
      clients.push(c);
      return c;
    },
  };
}
