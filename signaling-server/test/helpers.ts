/** A real `ws` client speaking the signaling protocol, for tests and the fuzz run. */

import { request } from 'node:http';
import {
  generateIdentity,
  type Identity,
  joinChallengeBytes,
  parseServerMessage,
  type ServerMessage,
  toHex,
} from '@peerbench/protocol';
import WebSocket from 'ws';

export interface Closed {
  code: number;
  reason: string;
}

type Waiter = { pred: (m: ServerMessage) => boolean; resolve: (m: ServerMessage) => void };

export class TestClient {
  readonly inbox: ServerMessage[] = [];
  /** Every message ever received, for assertions that look back. */
  readonly received: ServerMessage[] = [];
  readonly closed: Promise<Closed>;
  isClosed = false;
  nonce = '';
  peerId = '';
  private waiters: Waiter[] = [];

  private constructor(
    readonly ws: WebSocket,
    readonly identity: Identity | undefined,
  ) {
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.isClosed = true;
        resolve({ code, reason: reason.toString() });
      });
    });
    ws.on('error', () => {});
    ws.on('message', (data) => {
      // parseServerMessage also checks the server only ever sends valid protocol.
      const msg = parseServerMessage(data.toString());
      this.received.push(msg);
      const i = this.waiters.findIndex((w) => w.pred(msg));
      if (i >= 0) {
        const [w] = this.waiters.splice(i, 1);
        w?.resolve(msg);
      } else this.inbox.push(msg);
    });
  }

  static async connect(
    url: string,
    opts: { identity?: Identity; autoPong?: boolean; localAddress?: string } = {},
  ): Promise<TestClient> {
    const ws = new WebSocket(url, {
      autoPong: opts.autoPong ?? true,
      // Another loopback address (127.0.0.2, …) is another client address to the server.
      ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
    });
    const client = new TestClient(ws, opts.identity);
    const challenge = client.next((m) => m.type === 'challenge' || m.type === 'error');
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const first = await challenge;
    if (first.type === 'challenge') client.nonce = first.nonce;
    else client.inbox.unshift(first);
    return client;
  }

  /** Connects and joins `room` with a fresh (or given) identity; resolves with the welcome. */
  static async joined(
    url: string,
    room: string,
    identity?: Identity,
    localAddress?: string,
  ): Promise<{ client: TestClient; welcome: Extract<ServerMessage, { type: 'welcome' }> }> {
    const id = identity ?? (await generateIdentity());
    const client = await TestClient.connect(url, { identity: id, ...(localAddress ? { localAddress } : {}) });
    const welcome = await client.join(room, id);
    return { client, welcome };
  }

  async signJoin(room: string, identity: Identity): Promise<string> {
    return toHex(await identity.sign(joinChallengeBytes(room, this.nonce)));
  }

  async join(room: string, identity: Identity): Promise<Extract<ServerMessage, { type: 'welcome' }>> {
    const signature = await this.signJoin(room, identity);
    this.send({ type: 'join', room, peerId: identity.peerId, signature });
    const reply = await this.next((m) => m.type === 'welcome' || m.type === 'error');
    if (reply.type !== 'welcome') throw new Error(`join failed: ${JSON.stringify(reply)}`);
    this.peerId = identity.peerId;
    return reply;
  }

  send(msg: unknown): void {
    this.ws.send(typeof msg === 'string' || msg instanceof Uint8Array ? msg : JSON.stringify(msg));
  }

  /** Sends and resolves once ws has handed the frame to the socket. */
  sendAsync(msg: string | Uint8Array): Promise<void> {
    return new Promise((resolve) => this.ws.send(msg, () => resolve()));
  }

  signal(to: string, candidate: string): void {
    this.send({ type: 'signal', to, data: { type: 'candidate', candidate: { candidate, sdpMid: '0' } } });
  }

  /** The first queued or future message matching `pred` (removed from the inbox). */
  next(pred: (m: ServerMessage) => boolean = () => true, timeoutMs = 5_000): Promise<ServerMessage> {
    const i = this.inbox.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.inbox.splice(i, 1)[0] as ServerMessage);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        pred,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(
          new Error(`timed out waiting for a message; inbox: ${JSON.stringify(this.inbox).slice(0, 500)}`),
        );
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Resolves with the next `error` message's code. */
  async nextError(timeoutMs?: number): Promise<string> {
    const m = await this.next((x) => x.type === 'error', timeoutMs);
    return m.type === 'error' ? m.code : '';
  }

  close(): void {
    this.ws.close();
  }
}

export function isSignalFrom(from: string, candidate?: string) {
  return (m: ServerMessage): boolean =>
    m.type === 'signal' &&
    m.from === from &&
    (candidate === undefined || (m.data.type === 'candidate' && m.data.candidate.candidate === candidate));
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it is true (for server-side effects with no message to wait on). */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await delay(10);
  }
}

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP request from a chosen local address (fetch cannot bind one). */
export function httpFrom(
  url: string,
  opts: { method?: string; body?: string; localAddress?: string } = {},
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: opts.method ?? 'GET',
        agent: false,
        ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}
