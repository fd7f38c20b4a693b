/**
 * What peers tell the server about their WebRTC links, and fresh ICE servers
 * on request:
 *
 * - `link-report {links}`: a joined peer's links as it sees them (state and
 *   connection type), replacing its previous report. The server keeps the
 *   latest report per connection, forgets it when the peer leaves, and
 *   `/metrics` counts the reported link ends by type and state (a link
 *   reported by both its peers counts twice: once per end).
 * - `ice-refresh`: a TURN server refused the peer's credentials (401); the
 *   answer `ice-servers` carries what a new welcome would (fresh TURN REST
 *   credentials when the server issues them), without a rejoin.
 *
 * The schema (packages/protocol) bounds the report; here the server also
 * refuses reports naming the sender itself or one peer twice.
 */
import {
  type ClientMessage,
  type IceServer,
  LINK_CONNECTION_TYPES,
  type LinkConnectionType,
  type LinkReportEntry,
  REPORTED_LINK_STATES,
  type ReportedLinkState,
} from '@peerbench/protocol';
import type { ConnectionHost } from './host.js';
import type { Membership } from './rooms.js';

export type LinkMessage = Extract<ClientMessage, { type: 'link-report' | 'ice-refresh' }>;

export interface LinkReportsOptions {
  readonly iceServers: readonly IceServer[];
  readonly iceServersForPeer?: ((peerId: string) => IceServer[]) | undefined;
}

/** Reported link ends, by state, and (for connected ones) by connection type. */
export interface LinkCounts {
  readonly byState: Readonly<Record<ReportedLinkState, number>>;
  /** Connected link ends by type; `unknown` when the peer could not name the pair. */
  readonly connectedByType: Readonly<Record<LinkConnectionType | 'unknown', number>>;
}

export class LinkReports<C extends { membership: Membership<C> | null }> {
  private readonly reports = new Map<C, readonly LinkReportEntry[]>();

  constructor(
    private readonly host: ConnectionHost<C>,
    private readonly options: LinkReportsOptions,
  ) {}

  handle(conn: C, msg: LinkMessage): void {
    const membership = conn.membership;
    if (!membership) {
      this.host.reject(conn, 'not-joined', `join a room before ${msg.type}`);
      return;
    }
    if (msg.type === 'ice-refresh') {
      this.host.send(conn, {
        type: 'ice-servers',
        iceServers: this.options.iceServersForPeer?.(membership.peerId) ?? [...this.options.iceServers],
      });
      return;
    }
    const seen = new Set<string>();
    for (const link of msg.links) {
      if (link.peerId === membership.peerId || seen.has(link.peerId)) {
        this.host.reject(
          conn,
          'invalid-message',
          `invalid link-report: ${link.peerId === membership.peerId ? 'a link to itself' : 'a peer named twice'}`,
        );
        return;
      }
      seen.add(link.peerId);
    }
    this.reports.set(conn, msg.links);
  }

  /** The peer left its room or disconnected: its links no longer count. */
  drop(conn: C): void {
    this.reports.delete(conn);
  }

  counts(): LinkCounts {
    const byState = Object.fromEntries(REPORTED_LINK_STATES.map((s) => [s, 0])) as Record<
      ReportedLinkState,
      number
    >;
    const connectedByType = Object.fromEntries(
      [...LINK_CONNECTION_TYPES, 'unknown'].map((t) => [t, 0]),
    ) as Record<LinkConnectionType | 'unknown', number>;
    for (const links of this.reports.values()) {
      for (const link of links) {
        byState[link.state]++;
        if (link.state === 'connected') connectedByType[link.type ?? 'unknown']++;
      }
    }
    return { byState, connectedByType };
  }
}
