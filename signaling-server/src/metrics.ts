/**
 * Counters of the signaling server and their Prometheus text rendering.
 * Gauges (connections, rooms, peers) are read from the live server state when
 * rendered, so they can never drift from it.
 */
import {
  LINK_CONNECTION_TYPES,
  REPORTED_LINK_STATES,
  SIGNALING_ERROR_CODES,
  type SignalingErrorCode,
} from '@peerbench/protocol';
import type { LinkCounts } from './link-reports.js';

export interface SignalingMetrics {
  /** Open WebSocket connections (joined or not). */
  readonly connections: number;
  /** Rooms with at least one member. */
  readonly rooms: number;
  /** Joined peers summed over all rooms. */
  readonly peers: number;
  /** WebRTC link ends as the peers last reported them (link-reports.ts). */
  readonly links: LinkCounts;
  readonly connectionsAcceptedTotal: number;
  /** WebSocket messages received from clients, valid or not. */
  readonly messagesReceivedTotal: number;
  /** `signal` messages delivered to another peer. */
  readonly relayedMessagesTotal: number;
  /** Messages answered with an `error`, by error code. */
  readonly rejectedMessagesTotal: Readonly<Record<SignalingErrorCode, number>>;
  /** Connections closed with 1008 after exhausting their abuse-strike budget. */
  readonly abuseClosesTotal: number;
  /** Connections dropped for missing heartbeats. */
  readonly heartbeatDropsTotal: number;
  /** Connections closed because they did not read what was sent to them. */
  readonly slowConsumerClosesTotal: number;
  /** Ledger transactions by outcome: accepted, rejected by the ledger, or the hook failed. */
  readonly ledgerTxsTotal: Readonly<{ accepted: number; rejected: number; failed: number }>;
  readonly ledgerBlocksSentTotal: number;
  /** /ledger HTTP requests answered 429 rate-limited. */
  readonly httpRateLimitedTotal: number;
  /** WebSocket upgrades and POST /ledger/tx refused for their Origin. */
  readonly forbiddenOriginTotal: number;
  /** Of those, blocks too large for one signaling message that were sent in parts. */
  readonly ledgerBlocksSentInPartsTotal: number;
  /** Blocks too large for one message that could not be split (not a ledger block), not sent. */
  readonly ledgerBlocksOversizedTotal: number;
  readonly uptimeSeconds: number;
  /** Open TCP sockets (pending, HTTP, WebSocket). */
  readonly openSockets: number;
  /** Sockets still waiting for their first complete request headers. */
  readonly pendingSockets: number;
  /** New sockets destroyed at once: the server at maxOpenSockets, or the address at maxPendingSocketsPerIp. */
  readonly socketsRefusedTotal: Readonly<{ server: number; address: number }>;
  /** Sockets closed for not sending complete request headers within upgradeTimeoutMs. */
  readonly upgradeTimeoutsTotal: number;
}

export class SignalingCounters {
  connectionsAcceptedTotal = 0;
  messagesReceivedTotal = 0;
  relayedMessagesTotal = 0;
  readonly rejectedMessagesTotal: Record<SignalingErrorCode, number> = Object.fromEntries(
    SIGNALING_ERROR_CODES.map((code) => [code, 0]),
  ) as Record<SignalingErrorCode, number>;
  abuseClosesTotal = 0;
  heartbeatDropsTotal = 0;
  slowConsumerClosesTotal = 0;
  readonly ledgerTxsTotal = { accepted: 0, rejected: 0, failed: 0 };
  ledgerBlocksSentTotal = 0;
  httpRateLimitedTotal = 0;
  forbiddenOriginTotal = 0;
  ledgerBlocksSentInPartsTotal = 0;
  ledgerBlocksOversizedTotal = 0;
  readonly socketsRefusedTotal = { server: 0, address: 0 };
  upgradeTimeoutsTotal = 0;
}

export interface Gauges {
  connections: number;
  rooms: number;
  peers: number;
  links: LinkCounts;
  uptimeSeconds: number;
  openSockets: number;
  pendingSockets: number;
}

export function snapshotMetrics(counters: SignalingCounters, gauges: Gauges): SignalingMetrics {
  return {
    ...gauges,
    connectionsAcceptedTotal: counters.connectionsAcceptedTotal,
    messagesReceivedTotal: counters.messagesReceivedTotal,
    relayedMessagesTotal: counters.relayedMessagesTotal,
    rejectedMessagesTotal: { ...counters.rejectedMessagesTotal },
    abuseClosesTotal: counters.abuseClosesTotal,
    heartbeatDropsTotal: counters.heartbeatDropsTotal,
    slowConsumerClosesTotal: counters.slowConsumerClosesTotal,
    ledgerTxsTotal: { ...counters.ledgerTxsTotal },
    ledgerBlocksSentTotal: counters.ledgerBlocksSentTotal,
    httpRateLimitedTotal: counters.httpRateLimitedTotal,
    forbiddenOriginTotal: counters.forbiddenOriginTotal,
    ledgerBlocksSentInPartsTotal: counters.ledgerBlocksSentInPartsTotal,
    ledgerBlocksOversizedTotal: counters.ledgerBlocksOversizedTotal,
    socketsRefusedTotal: { ...counters.socketsRefusedTotal },
    upgradeTimeoutsTotal: counters.upgradeTimeoutsTotal,
  };
}

const PREFIX = 'peerbench_signaling_';

/** Fields of SignalingMetrics that are one plain number. */
type NumberField = {
  [K in keyof SignalingMetrics]: SignalingMetrics[K] extends number ? K : never;
}[keyof SignalingMetrics];

/** The counters with one unlabelled sample: Prometheus name (after PREFIX, before `_total`), help, field. */
const PLAIN_COUNTERS: readonly (readonly [string, string, NumberField])[] = [
  // Traffic.
  ['connections_accepted', 'WebSocket connections accepted.', 'connectionsAcceptedTotal'],
  ['messages_received', 'Messages received from clients, valid or not.', 'messagesReceivedTotal'],
  ['relayed_messages', 'Signal messages relayed between peers.', 'relayedMessagesTotal'],
  // Connections closed or refused.
  ['abuse_closes', 'Connections closed with 1008 for abuse.', 'abuseClosesTotal'],
  ['heartbeat_drops', 'Connections dropped for missed heartbeats.', 'heartbeatDropsTotal'],
  ['slow_consumer_closes', 'Connections closed for not reading their messages.', 'slowConsumerClosesTotal'],
  ['upgrade_timeouts', 'Sockets closed for incomplete request headers.', 'upgradeTimeoutsTotal'],
  ['forbidden_origin', 'Joins and txs refused for their Origin.', 'forbiddenOriginTotal'],
  // The ledger's traffic.
  ['ledger_blocks_sent', 'Ledger blocks sent to subscribers.', 'ledgerBlocksSentTotal'],
  ['ledger_blocks_sent_in_parts', 'Blocks sent in parts (over one message).', 'ledgerBlocksSentInPartsTotal'],
  ['ledger_blocks_oversized', 'Blocks over one message, not splittable.', 'ledgerBlocksOversizedTotal'],
  ['http_rate_limited', '/ledger HTTP requests refused with 429.', 'httpRateLimitedTotal'],
];

/** Prometheus text exposition format 0.0.4. */
export function renderPrometheus(m: SignalingMetrics, rssBytes: number): string {
  const lines: string[] = [];
  const metric = (name: string, type: 'gauge' | 'counter', help: string, samples: [string, number][]) => {
    lines.push(`# HELP ${PREFIX}${name} ${help}`, `# TYPE ${PREFIX}${name} ${type}`);
    for (const [labels, value] of samples) lines.push(`${PREFIX}${name}${labels} ${value}`);
  };
  metric('connections', 'gauge', 'Open WebSocket connections.', [['', m.connections]]);
  metric('rooms', 'gauge', 'Rooms with at least one peer.', [['', m.rooms]]);
  metric('peers', 'gauge', 'Joined peers over all rooms.', [['', m.peers]]);
  metric('open_sockets', 'gauge', 'Open TCP sockets (pending, HTTP, WebSocket).', [['', m.openSockets]]);
  metric('pending_sockets', 'gauge', 'Sockets waiting for their first complete request headers.', [
    ['', m.pendingSockets],
  ]);
  metric('uptime_seconds', 'gauge', 'Seconds since the server started.', [['', m.uptimeSeconds]]);
  metric(
    'reported_links',
    'gauge',
    'WebRTC link ends as peers report them, by state (a link reported by both peers counts twice).',
    REPORTED_LINK_STATES.map((state) => [`{state="${state}"}`, m.links.byState[state]]),
  );
  metric(
    'reported_connected_links',
    'gauge',
    'Connected WebRTC link ends as peers report them, by connection type (direct or via a TURN relay).',
    [...LINK_CONNECTION_TYPES, 'unknown' as const].map((type) => [
      `{type="${type}"}`,
      m.links.connectedByType[type],
    ]),
  );
  for (const [name, help, field] of PLAIN_COUNTERS)
    metric(`${name}_total`, 'counter', help, [['', m[field]]]);
  metric(
    'rejected_messages_total',
    'counter',
    'Messages answered with an error, by error code.',
    SIGNALING_ERROR_CODES.map((code) => [`{code="${code}"}`, m.rejectedMessagesTotal[code]]),
  );
  metric('ledger_txs_total', 'counter', 'Ledger transactions submitted, by result.', [
    ['{result="accepted"}', m.ledgerTxsTotal.accepted],
    ['{result="rejected"}', m.ledgerTxsTotal.rejected],
    ['{result="failed"}', m.ledgerTxsTotal.failed],
  ]);
  metric(
    'sockets_refused_total',
    'counter',
    'New sockets destroyed at once, by the limit that refused them.',
    [
      ['{limit="server"}', m.socketsRefusedTotal.server],
      ['{limit="address"}', m.socketsRefusedTotal.address],
    ],
  );
  lines.push(
    '# HELP process_resident_memory_bytes Resident memory size in bytes.',
    '# TYPE process_resident_memory_bytes gauge',
    `process_resident_memory_bytes ${rssBytes}`,
  );
  return `${lines.join('\n')}\n`;
}
