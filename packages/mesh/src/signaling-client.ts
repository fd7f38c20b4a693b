/**
 * Client side of the signaling protocol (packages/protocol/src/signaling.ts):
 * one WebSocket to the server, the signed join handshake, signal relay, and
 * the parts in their own files: reconnects with exponential backoff and
 * jitter (signaling-reconnect.ts), the socket's liveness check
 * (signaling-keepalive.ts), presence (signaling-presence.ts) and the ledger
 * channel (ledger-channel.ts: txs in, blocks out). Everything received is
 * validated with `parseServerMessage`; a bad message is reported as an
 * 'error' event and dropped, never thrown.
 */
import {
  type ClientMessage,
  type IceServer,
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
import { ServerUrlRotation } from './server-urls.js';
import {
  CLOSE_KEEPALIVE_TIMEOUT,
  CLOSE_POLICY_VIOLATION,
  CLOSE_REPLACED,
  type SignalingClientOptions,
  type SignalingEvents,
  type SignalingState,
  type Welcome,
} from './signaling-client-options.js';
import { SignalingKeepalive } from './signaling-keepalive.js';
import { RoomPresence } from './signaling-presence.js';
import { ReconnectSchedule } from './signaling-reconnect.js';
import { messageText, type WebSocketConstructor, type WebSocketLike, WS_OPEN } from './websocket.js';

export * from './signaling-client-options.js';

export class SignalingClient {
  readonly peerId: string;
  private readonly opts: SignalingClientOptions;
  private readonly events = new Emitter<SignalingEvents>();
  private readonly WS: WebSocketConstructor;
  private readonly servers: ServerUrlRotation;
  private readonly reconnects: ReconnectSchedule;
  private ws: WebSocketLike | undefined;
  private keepalive: SignalingKeepalive | undefined;
  private _state: SignalingState = 'idle';
  private readonly presence: RoomPresence;
  private welcome: Welcome | undefined;
  private readonly ledger: LedgerChannel;
  private started: { resolve(): void; reject(e: Error): void } | undefined;

  constructor(opts: SignalingClientOptions) {
    this.opts = opts;
    this.servers = new ServerUrlRotation(opts.url);
    this.reconnects = new ReconnectSchedule(this.servers, opts);
    this.peerId = opts.identity.peerId;
    this.presence = new RoomPresence(this.peerId);
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
    return this.presence.peers();
  }

  /** Members of the room (this peer included) as of the latest welcome or sample; null before joining. */
  get roomSize(): number | null {
    return this.presence.roomSize;
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
      this.reconnects.reset();
      this.connect('connecting');
    });
  }

  async stop(): Promise<void> {
    this.reconnects.cancel();
    this.setState('closed');
    const ws = this.detach();
    if (ws) {
      try {
        if (ws.readyState === WS_OPEN) ws.send(JSON.stringify({ type: 'leave' } satisfies ClientMessage));
        ws.close(1000, 'client stopped');
      } catch {
        // Socket already gone.
      }
    }
    this.ledger.stop();
    this.presence.clear();
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
    if (!ws || this._state !== 'connected') return false;
    return this.sendOnSocket(ws, msg);
  }

  /** Sends on `ws` if it is open, joined or not (the join itself and keepalive pings). */
  private sendOnSocket(ws: WebSocketLike, msg: ClientMessage): boolean {
    if (ws.readyState !== WS_OPEN) return false;
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

  /** Stops watching the current socket and returns it (its handlers gone; errors swallowed). */
  private detach(): WebSocketLike | undefined {
    this.keepalive?.stop();
    this.keepalive = undefined;
    const ws = this.ws;
    this.ws = undefined;
    if (ws) {
      ws.onclose = null;
      ws.onmessage = null;
      ws.onopen = null;
      // A no-op, not null: `ws` emits 'error' when a socket still connecting is closed,
      // and an EventEmitter with no 'error' listener throws.
      ws.onerror = () => {};
    }
    return ws;
  }

  /** The keepalive heard nothing in time: drop the socket without a handshake and open a new one. */
  private onDead(ws: WebSocketLike, reason: string): void {
    if (this.ws !== ws) return;
    this.detach();
    try {
      const terminate = (ws as { terminate?: () => void }).terminate;
      if (typeof terminate === 'function') terminate.call(ws);
      else ws.close(CLOSE_KEEPALIVE_TIMEOUT, 'keepalive timeout');
    } catch {
      // Already gone.
    }
    this.events.emit('error', { code: 'keepalive-timeout', message: `signaling socket dead: ${reason}` });
    this.scheduleReconnect();
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
    if (this.opts.keepalive !== false) {
      this.keepalive = new SignalingKeepalive(
        {
          sendPing: (seq) => this.sendOnSocket(ws, { type: 'ping', seq }),
          onDead: (reason) => this.onDead(ws, reason),
        },
        this.opts.keepalive,
      );
    }
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      this.keepalive?.heard();
      this.onMessage(ws, ev.data).catch((e: unknown) => {
        this.events.emit('error', {
          code: 'internal',
          message: `handling a server message: ${(e as Error).message}`,
        });
      });
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.detach();
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
      if (ev.code === CLOSE_POLICY_VIOLATION) this.reconnects.slowDown();
      this.scheduleReconnect();
    };
    // 'error' is always followed by 'close'; the reconnect happens there.
    ws.onerror = () => {};
  }

  private scheduleReconnect(): void {
    if (this._state === 'closed') return;
    this.setState('reconnecting');
    this.reconnects.schedule(() => {
      if (this._state !== 'closed') this.connect('reconnecting');
    });
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
        if (this.ws !== ws) return;
        this.sendOnSocket(ws, {
          type: 'join',
          room: this.opts.room,
          peerId: this.peerId,
          signature: toHex(signature),
        });
        return;
      }
      case 'welcome': {
        this.welcome = {
          peerId: msg.peerId,
          room: msg.room,
          peers: msg.peers,
          roomSize: this.presence.welcomed(msg.peers, msg.roomSize),
          iceServers: msg.iceServers,
          heartbeatIntervalMs: msg.heartbeatIntervalMs,
        };
        this.reconnects.reset();
        this.setState('connected');
        this.ledger.resubscribe();
        this.events.emit('welcome', this.welcome);
        this.started?.resolve();
        this.started = undefined;
        return;
      }
      case 'peer-joined':
        if (this.presence.joined(msg.peer)) this.events.emit('peer-joined', msg.peer);
        return;
      case 'sample':
        this.presence.sampled(msg.peers, msg.roomSize);
        this.events.emit('sample', { peers: msg.peers, roomSize: msg.roomSize });
        return;
      case 'peer-left':
        this.presence.left(msg.peerId);
        this.events.emit('peer-left', msg.peerId);
        return;
      case 'pong':
        // The keepalive already counted it (any message proves the socket alive).
        return;
      case 'signal':
        this.presence.signalFrom(msg.from);
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
