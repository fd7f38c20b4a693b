/**
 * Client side of the signaling protocol (packages/protocol/src/signaling.ts):
 * one WebSocket to the server, the signed join handshake, reconnects with
 * exponential backoff and jitter, presence, signal relay, and the ledger
 * channel (ledger-channel.ts: txs in, blocks out). Everything received is validated with
 * `parseServerMessage`; a bad message is reported as an 'error' event and
 * dropped, never thrown.
 */
import {
  type ClientMessage,
  type IceServer,
  type Identity,
  joinChallengeBytes,
  type LinkReportEntry,
  type PeerInfo,
  parseServerMessage,
  type ServerMessage,
  type SignalData,
  SignalingMessageError,
  toHex,
} from '@peerbench/protocol';
import { Emitter } from './emitter.js';
import { LEDGER_TX_TIMEOUT_MS, LedgerChannel, type LedgerTxResult } from './ledger-channel.js';
import { ServerUrlRotation, type ServerUrls } from './server-urls.js';
import {
  backoffDelayMs,
  messageText,
  type WebSocketConstructor,
  type WebSocketLike,
  WS_OPEN,
} from './websocket.js';

/** Server close code: a newer connection with the same identity took this one's place. */
export const CLOSE_REPLACED = 4000;
/** Server close code: too many invalid or rate-limited messages. */
export const CLOSE_POLICY_VIOLATION = 1008;
/** After a 1008 close, reconnect as if this many attempts had failed already. */
const POLICY_CLOSE_BACKOFF_ATTEMPT = 5;

/** First reconnect delay; doubles per failed attempt up to RECONNECT_MAX_DELAY_MS. */
export const RECONNECT_INITIAL_DELAY_MS = 250;
export const RECONNECT_MAX_DELAY_MS = 10_000;
export type SignalingState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'closed';

export interface Welcome {
  peerId: string;
  room: string;
  /** A random sample of the other members (all of them in a small room). */
  peers: PeerInfo[];
  /** Members of the room, this peer included. */
  roomSize: number;
  iceServers: IceServer[];
  heartbeatIntervalMs: number;
}

export type SignalingEvents = {
  state: [SignalingState];
  welcome: [Welcome];
  /** A fresh sample of the room (the answer to `requestSample`). */
  sample: [{ peers: PeerInfo[]; roomSize: number }];
  'peer-joined': [PeerInfo];
  'peer-left': [string];
  signal: [{ from: string; data: SignalData }];
  'ledger-block': [unknown];
  'ledger-tx-result': [{ requestId: string } & LedgerTxResult];
  /** Fresh ICE servers (the answer to `refreshIceServers`); `iceServers()` returns them from now on. */
  'ice-servers': [IceServer[]];
  error: [{ code: string; message: string }];
};

export interface SignalingClientOptions {
  /**
   * The server, or clustered instances of one network (a list, or one
   * comma-separated string): the client starts on the first and, whenever its
   * connection drops or cannot be opened, tries the next one (round robin,
   * with the reconnect backoff), rejoins its room there and renews its ledger
   * subscription from the block after the last one it received.
   */
  url: ServerUrls;
  room: string;
  identity: Identity;
  /** WebSocket implementation; default the global one (browsers, Node ≥ 22). In Node 20 pass `ws`'s. */
  WebSocket?: WebSocketConstructor;
  reconnectInitialDelayMs?: number;
  reconnectMaxDelayMs?: number;
  ledgerTxTimeoutMs?: number;
  /** Random source for jitter, injectable for tests. */
  random?: () => number;
}

export class SignalingClient {
  readonly peerId: string;
  private readonly opts: SignalingClientOptions;
  private readonly events = new Emitter<SignalingEvents>();
  private readonly WS: WebSocketConstructor;
  private readonly servers: ServerUrlRotation;
  private ws: WebSocketLike | undefined;
  private _state: SignalingState = 'idle';
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly members = new Map<string, PeerInfo>();
  private welcome: Welcome | undefined;
  private readonly ledger: LedgerChannel;
  private _roomSize: number | null = null;
  private started: { resolve(): void; reject(e: Error): void } | undefined;

  constructor(opts: SignalingClientOptions) {
    this.opts = opts;
    this.servers = new ServerUrlRotation(opts.url);
    this.peerId = opts.identity.peerId;
    const WS = opts.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!WS) throw new TypeError('no WebSocket implementation: pass the `ws` package as opts.WebSocket');
    this.WS = WS;
    this.ledger = new LedgerChannel((msg) => this.send(msg), opts.ledgerTxTimeoutMs ?? LEDGER_TX_TIMEOUT_MS);
  }

  get state(): SignalingState {
    return this._state;
  }

  /** The server URL this client is connected to, or tries next. */
  get serverUrl(): string {
    return this.servers.current;
  }

  /** Every server URL this client may use, in the order it tries them. */
  get serverUrls(): readonly string[] {
    return this.servers.urls;
  }

  /** Room members other than this peer, as last told by the server. */
  peers(): PeerInfo[] {
    return [...this.members.values()];
  }

  /** Members of the room (this peer included) as of the latest welcome or sample; null before joining. */
  get roomSize(): number | null {
    return this._roomSize;
  }

  /**
   * Asks the server for another random sample of the room; resolves with the
   * members now known (the sample added to what this client knew) when it
   * comes, or at once with what is known when not connected or refused.
   */
  requestSample(timeoutMs = LEDGER_TX_TIMEOUT_MS): Promise<PeerInfo[]> {
    if (!this.send({ type: 'sample' })) return Promise.resolve(this.peers());
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        offSample();
        offError();
        resolve(this.peers());
      };
      const timer = setTimeout(done, timeoutMs);
      const offSample = this.on('sample', done);
      const offError = this.on('error', (e) => e.code === 'rate-limited' && done());
    });
  }

  /** ICE servers from the latest welcome or `ice-servers` answer (empty before). */
  iceServers(): IceServer[] {
    return this.welcome?.iceServers ?? [];
  }

  /** Asks the server for fresh ICE servers (new TURN credentials); false when not connected. */
  refreshIceServers(): boolean {
    return this.send({ type: 'ice-refresh' });
  }

  /** Tells the server this peer's links (counted in its /metrics); false when not connected. */
  sendLinkReport(links: LinkReportEntry[]): boolean {
    return this.send({ type: 'link-report', links });
  }

  on<K extends keyof SignalingEvents>(event: K, cb: (...args: SignalingEvents[K]) => void): () => void {
    return this.events.on(event, cb);
  }

  /** Connects and joins; resolves on the first welcome (retrying with backoff until then). */
  start(): Promise<void> {
    if (this._state !== 'idle' && this._state !== 'closed') return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.started = { resolve, reject };
      this.attempt = 0;
      this.connect('connecting');
    });
  }

  async stop(): Promise<void> {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.setState('closed');
    const ws = this.ws;
    this.ws = undefined;
    if (ws) {
      ws.onclose = null;
      ws.onmessage = null;
      ws.onerror = null;
      ws.onopen = null;
      try {
        if (ws.readyState === WS_OPEN) ws.send(JSON.stringify({ type: 'leave' } satisfies ClientMessage));
        ws.close(1000, 'client stopped');
      } catch {
        // Socket already gone.
      }
    }
    this.ledger.stop();
    this.members.clear();
    this.started?.reject(new Error('signaling client stopped before joining'));
    this.started = undefined;
  }

  /** Relays a WebRTC signal to `to`. Returns false when not connected (the mesh retries later). */
  sendSignal(to: string, data: SignalData): boolean {
    return this.send({ type: 'signal', to, data });
  }

  /** Submits a ledger transaction; resolves with the server's verdict (never rejects). */
  sendLedgerTx(tx: unknown): Promise<LedgerTxResult> {
    return this.ledger.sendTx(tx);
  }

  /**
   * Asks for every block from `fromHeight` on, then each new one. Remembered:
   * after a reconnect the subscription is renewed from the block after the
   * last one received.
   */
  subscribeLedger(fromHeight: number): void {
    this.ledger.subscribe(fromHeight);
  }

  private send(msg: ClientMessage): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== WS_OPEN || this._state !== 'connected') return false;
    try {
      ws.send(JSON.stringify(msg));
      return true;
    } catch {
      return false;
    }
  }

  private setState(s: SignalingState): void {
    if (this._state === s) return;
    this._state = s;
    this.events.emit('state', s);
  }

  private connect(state: 'connecting' | 'reconnecting'): void {
    this.setState(state);
    let ws: WebSocketLike;
    try {
      ws = new this.WS(this.servers.current);
    } catch (e) {
      this.events.emit('error', { code: 'connect-failed', message: (e as Error).message });
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      this.onMessage(ws, ev.data).catch((e: unknown) => {
        this.events.emit('error', {
          code: 'internal',
          message: `handling a server message: ${(e as Error).message}`,
        });
      });
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      if (ev.code === CLOSE_REPLACED) {
        // The same identity joined this room on a newer connection (another
        // tab or process). Reconnecting would evict it in turn, forever.
        this.events.emit('error', {
          code: 'replaced',
          message: 'this identity joined the room from another tab or process; this one stopped',
        });
        this.setState('closed');
        this.started?.reject(new Error('replaced by a newer connection with the same identity'));
        this.started = undefined;
        return;
      }
      // Closed for abuse: come back slowly, not in a tight loop.
      if (ev.code === CLOSE_POLICY_VIOLATION)
        this.attempt = Math.max(this.attempt, POLICY_CLOSE_BACKOFF_ATTEMPT);
      this.scheduleReconnect();
    };
    // 'error' is always followed by 'close'; the reconnect happens there.
    ws.onerror = () => {};
  }

  private scheduleReconnect(): void {
    if (this._state === 'closed') return;
    this.setState('reconnecting');
    // This server dropped us or cannot be reached: the next attempt goes to the next one.
    this.servers.advance();
    const delay = backoffDelayMs(
      this.attempt++,
      this.opts.reconnectInitialDelayMs ?? RECONNECT_INITIAL_DELAY_MS,
      this.opts.reconnectMaxDelayMs ?? RECONNECT_MAX_DELAY_MS,
      this.opts.random ?? Math.random,
    );
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this._state !== 'closed') this.connect('reconnecting');
    }, delay);
  }

  private async onMessage(ws: WebSocketLike, raw: unknown): Promise<void> {
    let msg: ServerMessage;
    try {
      msg = parseServerMessage(messageText(raw));
    } catch (e) {
      const code = e instanceof SignalingMessageError ? e.code : 'invalid-message';
      this.events.emit('error', { code, message: `from server: ${(e as Error).message}` });
      return;
    }
    switch (msg.type) {
      case 'challenge': {
        const signature = await this.opts.identity.sign(joinChallengeBytes(this.opts.room, msg.nonce));
        if (this.ws !== ws || ws.readyState !== WS_OPEN) return;
        ws.send(
          JSON.stringify({
            type: 'join',
            room: this.opts.room,
            peerId: this.peerId,
            signature: toHex(signature),
          } satisfies ClientMessage),
        );
        return;
      }
      case 'welcome': {
        this._roomSize = msg.roomSize ?? msg.peers.length + 1;
        this.welcome = {
          peerId: msg.peerId,
          room: msg.room,
          peers: msg.peers,
          roomSize: this._roomSize,
          iceServers: msg.iceServers,
          heartbeatIntervalMs: msg.heartbeatIntervalMs,
        };
        this.members.clear();
        for (const p of msg.peers) if (p.peerId !== this.peerId) this.members.set(p.peerId, p);
        this.attempt = 0;
        this.setState('connected');
        this.ledger.resubscribe();
        this.events.emit('welcome', this.welcome);
        this.started?.resolve();
        this.started = undefined;
        return;
      }
      case 'peer-joined':
        if (msg.peer.peerId === this.peerId) return;
        if (!this.members.has(msg.peer.peerId) && this._roomSize !== null) this._roomSize++;
        this.members.set(msg.peer.peerId, msg.peer);
        this.events.emit('peer-joined', msg.peer);
        return;
      case 'sample':
        this._roomSize = msg.roomSize;
        for (const p of msg.peers) if (p.peerId !== this.peerId) this.members.set(p.peerId, p);
        this.events.emit('sample', { peers: msg.peers, roomSize: msg.roomSize });
        return;
      case 'peer-left':
        // Exact in a small room; in a big one the next sample corrects it.
        if (this.members.delete(msg.peerId) && this._roomSize !== null)
          this._roomSize = Math.max(1, this._roomSize - 1);
        this.events.emit('peer-left', msg.peerId);
        return;
      case 'signal':
        if (!this.members.has(msg.from)) {
          // The server only relays within a room; a signal from a peer we have not heard of
          // yet can race its peer-joined. Accept it and record the member.
          this.members.set(msg.from, { peerId: msg.from, joinedAtMs: Date.now() });
        }
        this.events.emit('signal', { from: msg.from, data: msg.data });
        return;
      case 'error': {
        if (msg.requestId)
          this.ledger.answer(msg.requestId, { ok: false, code: msg.code, message: msg.message });
        this.events.emit('error', { code: msg.code, message: msg.message });
        return;
      }
      case 'ledger-tx-result': {
        const result: LedgerTxResult = { ok: msg.ok };
        if (msg.code !== undefined) result.code = msg.code;
        if (msg.message !== undefined) result.message = msg.message;
        this.ledger.answer(msg.requestId, result);
        this.events.emit('ledger-tx-result', { requestId: msg.requestId, ...result });
        return;
      }
      case 'ledger-block': {
        this.ledger.sawBlock(msg.block);
        this.events.emit('ledger-block', msg.block);
        return;
      }
      case 'ice-servers': {
        if (this.welcome) this.welcome = { ...this.welcome, iceServers: msg.iceServers };
        this.events.emit('ice-servers', msg.iceServers);
        return;
      }
    }
  }
}
