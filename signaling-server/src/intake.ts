/**
 * Every client message on its way in: the per-connection rate limit, the
 * size cap, text only, ordering behind a join whose signature is still being
 * verified, parsing with the protocol's `parseClientMessage`, and routing to
 * rooms or the ledger relay. Anything wrong is answered with a stable code
 * through the server's `reject` (which counts strikes).
 */
import { type ClientMessage, parseClientMessage, SignalingMessageError } from '@peerbench/protocol';
import type { RawData } from 'ws';
import type { ConnectionHost } from './host.js';
import type { LedgerRelay, LedgerSubscriber } from './ledger-relay.js';
import type { LinkReports } from './link-reports.js';
import { MAX_BACKLOG_MESSAGES } from './options.js';
import type { JoinMessage, Membership, RoomMember, Rooms } from './rooms.js';
import type { TokenBucket } from './token-bucket.js';

/** The part of the server's Connection the intake reads and writes. */
export interface IncomingConnection<C> extends RoomMember<C>, LedgerSubscriber {
  readonly socket: RoomMember<C>['socket'] & LedgerSubscriber['socket'];
  readonly rate: TokenBucket;
  readonly closed: boolean;
  membership: Membership<C> | null;
  /** A join is verifying; later messages wait in `backlog` to keep their order. */
  busy: boolean;
  readonly backlog: Uint8Array[];
}

export interface IntakeHost<C> extends ConnectionHost<C> {
  readonly options: { readonly messageRatePerS: number; readonly maxMessageBytes: number };
  /** (Re)starts the timer that closes a connection which has not joined in time. */
  armJoinTimer(conn: C): void;
  /** The connection joined: its join timer stops. */
  clearJoinTimer(conn: C): void;
}

export class MessageIntake<C extends IncomingConnection<C>> {
  constructor(
    private readonly host: IntakeHost<C>,
    private readonly rooms: Rooms<C>,
    private readonly ledger: LedgerRelay<C>,
    private readonly links: LinkReports<C>,
  ) {}

  /** One WebSocket message as received: checked, queued behind a verifying join, or handled. */
  receive(conn: C, data: RawData, isBinary: boolean): void {
    if (conn.closed || !this.host.running()) return;
    this.host.counters.messagesReceivedTotal++;
    if (!conn.rate.take()) {
      this.host.reject(conn, 'rate-limited', `more than ${this.host.options.messageRatePerS} messages/s`);
      return;
    }
    // Per address too: more connections (or reconnecting) does not buy more messages.
    if (!this.host.spend(conn, 'message')) {
      this.host.reject(conn, 'rate-limited', 'this address is over its message budget');
      return;
    }
    const size = rawByteLength(data);
    if (size > this.host.options.maxMessageBytes) {
      this.host.reject(
        conn,
        'message-too-large',
        `message is ${size} bytes; the limit is ${this.host.options.maxMessageBytes}`,
      );
      return;
    }
    if (isBinary) {
      this.host.reject(conn, 'invalid-message', 'binary frames are not accepted; send JSON text');
      return;
    }
    // Bytes, not a string: the protocol parser then skips re-encoding to
    // measure the size (about a third of the parse cost of a small signal).
    const bytes = rawToBytes(data);
    if (conn.busy) {
      if (conn.backlog.length >= MAX_BACKLOG_MESSAGES) {
        this.host.reject(conn, 'rate-limited', 'too many messages while the join is being verified');
        return;
      }
      conn.backlog.push(bytes);
      return;
    }
    this.handle(conn, bytes);
  }

  /** Handles one message; a join makes the connection busy until verified. */
  private handle(conn: C, raw: Uint8Array): void {
    let msg: ClientMessage;
    try {
      msg = parseClientMessage(raw);
    } catch (err) {
      if (err instanceof SignalingMessageError) this.host.reject(conn, err.code, err.message);
      else this.host.reject(conn, 'invalid-message', 'message could not be parsed');
      return;
    }
    try {
      switch (msg.type) {
        case 'join': {
          conn.busy = true;
          const work = this.join(conn, msg)
            .catch((err: unknown) => {
              this.host.log(`join failed: ${(err as Error).message}`);
              this.host.reject(conn, 'internal', 'join failed on the server');
            })
            .finally(() => {
              conn.busy = false;
              this.drainBacklog(conn);
            });
          this.host.track(work);
          return;
        }
        case 'leave':
          if (!conn.membership) {
            this.host.reject(conn, 'not-joined', 'leave before join');
            return;
          }
          // A leave fans out to the room like a join: both spend the address's join budget.
          if (!this.host.spend(conn, 'join')) {
            this.host.reject(conn, 'rate-limited', 'this address is over its join/leave budget');
            return;
          }
          this.rooms.leave(conn);
          this.host.armJoinTimer(conn);
          return;
        case 'signal':
          this.rooms.relay(conn, msg.to, msg.data);
          return;
        case 'sample':
          this.rooms.sample(conn);
          return;
        case 'ledger-tx':
          this.ledger.submitTx(conn, msg.requestId, msg.tx);
          return;
        case 'ledger-subscribe':
          this.ledger.subscribe(conn, msg.fromHeight);
          return;
        case 'ping':
          // The client's keepalive (protocol SIGNALING_PING_INTERVAL_MS): answered at once,
          // joined or not. Counted by the rate limits above like any message.
          this.host.send(conn, { type: 'pong', seq: msg.seq });
          return;
        case 'link-report':
        case 'ice-refresh':
          this.links.handle(conn, msg);
          return;
      }
    } catch (err) {
      this.host.log(`handler failed: ${(err as Error).message}`);
      this.host.reject(conn, 'internal', 'the server failed to handle this message');
    }
  }

  private drainBacklog(conn: C): void {
    while (!conn.busy && !conn.closed && this.host.running()) {
      const next = conn.backlog.shift();
      if (next === undefined) return;
      this.handle(conn, next);
    }
  }

  private async join(conn: C, msg: JoinMessage): Promise<void> {
    if (await this.rooms.join(conn, msg)) this.host.clearJoinTimer(conn);
  }
}

function rawByteLength(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((n, b) => n + b.length, 0);
  return data.byteLength;
}

function rawToBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return data;
}
