/**
 * The signaling protocol: JSON text messages over one WebSocket between a peer
 * and the signaling server. The server brokers WebRTC (offer/answer/ICE relay)
 * inside a room, announces presence, and carries ledger traffic (txs in,
 * blocks out). Every message received on either side goes through
 * `parseClientMessage` / `parseServerMessage` before it is used.
 *
 * Join handshake (no one can take another peer's identity):
 *   server → `challenge {nonce}` on connect
 *   client → `join {room, peerId, signature}` where signature is the Ed25519
 *            signature by peerId's key of `joinChallengeBytes(room, nonce)`
 *   server → `welcome {peerId, room, peers, roomSize, iceServers, heartbeatIntervalMs}`
 * Heartbeats, server side: WebSocket ping/pong frames (browsers answer them
 * natively). Client side: a browser cannot see or send those frames, so the
 * client checks its socket with `ping {seq}` messages, answered `pong {seq}`
 * at once (before or after joining); a client that hears nothing from the
 * server for SIGNALING_PONG_TIMEOUT_MS after a ping treats the socket as dead
 * and opens a new one. Without this a client whose network dropped for a
 * while kept a socket that looked open while TCP backed off its
 * retransmissions: measured in packages/netlab, offers waited up to the
 * outage's length after the network came back.
 *
 * Presence is a bounded random sample, not the room's full list: `peers` in
 * a welcome holds at most the server's sample size (≤ MAX_PRESENCE_SAMPLE_PEERS)
 * of the other members, `roomSize` says how many there are, and a joined
 * client asks for another sample with `sample` (answered by `sample`).
 * `peer-joined` / `peer-left` are pushed only to members that were told
 * about that peer (see the signaling server's README, "Presence").
 */
import * as v from 'valibot';
import { CodedError } from './errors.js';
import { LEDGER_SUBMIT_ERROR_CODES } from './ledger-codes.js';
import { invalidValueText } from './schema-issues.js';

/** Largest signaling message either side accepts, in bytes of UTF-8 JSON. */
export const MAX_SIGNALING_MESSAGE_BYTES = 64 * 1024;
export const MAX_ROOM_NAME_CHARS = 64;
/** Rooms are named in share links: letters, digits, '-' and '_'. */
export const ROOM_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const PEER_ID_PATTERN = /^[0-9a-f]{64}$/;
export const NONCE_PATTERN = /^[0-9a-f]{32,128}$/;
/**
 * Most members in one presence sample (welcome or sample answer): ~106 bytes
 * each, so 256 of them stay far below MAX_SIGNALING_MESSAGE_BYTES.
 */
export const MAX_PRESENCE_SAMPLE_PEERS = 256;
/**
 * Largest D (most WebRTC links a peer keeps in a bounded neighbourhood) a
 * server may announce or a page may ask for: each link is a gate slot of the
 * peer's model, D + 1 slots in all.
 */
export const MAX_NEIGHBOURHOOD_DEGREE = 32;
const MAX_SDP_CHARS = 32 * 1024;

/**
 * The signaling client sends `ping` after this long (and then every this
 * long) on an open socket. One every 4 s is 0.25 messages/s, far below any
 * rate limit the server applies (100/s per connection by default).
 */
export const SIGNALING_PING_INTERVAL_MS = 4_000;
/**
 * After a `ping`, the client waits this long for a `pong` (or any other
 * server message) before it closes the socket and reconnects. A socket
 * being opened gets the same deadline for the server's first message (its
 * `challenge`), plus the time to connect: SIGNALING_CONNECT_TIMEOUT_MS.
 */
export const SIGNALING_PONG_TIMEOUT_MS = 4_000;
/** A new socket that has heard nothing from the server (not even `challenge`) this long after it was made is given up. */
export const SIGNALING_CONNECT_TIMEOUT_MS = 5_000;
/** `ping`/`pong` sequence numbers are u32; the client wraps around. */
export const MAX_SIGNALING_PING_SEQ = 0xffff_ffff;
const MAX_CANDIDATE_CHARS = 2048;

export const SIGNALING_ERROR_CODES = [
  'invalid-message',
  'message-too-large',
  'rate-limited',
  'not-joined',
  'already-joined',
  'bad-signature',
  'room-full',
  'too-many-rooms',
  'too-many-connections',
  'unknown-peer',
  'duplicate-peer',
  'ledger-unavailable',
  'internal',
] as const;
export type SignalingErrorCode = (typeof SIGNALING_ERROR_CODES)[number];

const PeerId = v.pipe(v.string(), v.regex(PEER_ID_PATTERN, 'peer id must be 64 lowercase hex chars'));
const RoomName = v.pipe(v.string(), v.regex(ROOM_NAME_PATTERN, 'room must match [A-Za-z0-9_-]{1,64}'));
const Hex = (maxChars: number) => v.pipe(v.string(), v.maxLength(maxChars), v.regex(/^[0-9a-f]*$/));
const RoomSize = v.pipe(v.number(), v.integer(), v.minValue(1));
const RequestId = v.pipe(v.string(), v.minLength(1), v.maxLength(64));
const PingSeq = v.pipe(
  v.number('seq must be a number'),
  v.integer('seq must be an integer'),
  v.minValue(0, 'seq must be >= 0'),
  v.maxValue(MAX_SIGNALING_PING_SEQ, `seq must be <= ${MAX_SIGNALING_PING_SEQ}`),
);

/**
 * What simple-peer emits on 'signal' and accepts in `signal()`: an SDP
 * offer/answer, an ICE candidate, or a renegotiation/transceiver request.
 */
export const SignalDataSchema = v.union([
  v.strictObject({
    type: v.picklist(['offer', 'answer', 'pranswer', 'rollback']),
    sdp: v.optional(v.pipe(v.string(), v.maxLength(MAX_SDP_CHARS))),
  }),
  v.strictObject({
    type: v.literal('candidate'),
    candidate: v.strictObject({
      candidate: v.pipe(v.string(), v.maxLength(MAX_CANDIDATE_CHARS)),
      sdpMLineIndex: v.optional(v.nullable(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(64)))),
      sdpMid: v.optional(v.nullable(v.pipe(v.string(), v.maxLength(64)))),
      usernameFragment: v.optional(v.nullable(v.pipe(v.string(), v.maxLength(256)))),
    }),
  }),
  v.strictObject({ type: v.literal('renegotiate'), renegotiate: v.literal(true) }),
  /**
   * Bounded neighbourhoods (PeerMesh with `neighbourhood`): the other side
   * will not hold this link (it is at its maxLinks, or does not want it), or
   * closed it on purpose (`unlink`) and it must not be re-formed. Never
   * passed to simple-peer.
   */
  v.strictObject({ type: v.literal('link-refused'), reason: v.picklist(['full', 'unlinked']) }),
  v.strictObject({
    type: v.literal('transceiverRequest'),
    transceiverRequest: v.strictObject({
      kind: v.picklist(['audio', 'video']),
      init: v.optional(v.record(v.string(), v.unknown())),
    }),
  }),
]);
export type SignalData = v.InferOutput<typeof SignalDataSchema>;

/** Most STUN/TURN entries in a welcome. */
export const MAX_ICE_SERVERS = 8;
/** Most URLs in one entry. */
export const MAX_ICE_URLS_PER_SERVER = 8;
export const MAX_ICE_URL_CHARS = 512;
/** TURN REST usernames are `<expiry>:<name>`; credentials base64 of a 20-byte HMAC (28 chars). */
export const MAX_ICE_USERNAME_CHARS = 256;
export const MAX_ICE_CREDENTIAL_CHARS = 256;
/** stun:, stuns:, turn: or turns: (RFC 7064/7065), as RTCPeerConnection accepts them. */
export const ICE_URL_PATTERN = /^(stun|stuns|turn|turns):[^\s]+$/;

const IceUrl = v.pipe(
  v.string(),
  v.maxLength(MAX_ICE_URL_CHARS),
  v.regex(ICE_URL_PATTERN, 'ICE server URLs start with stun:, stuns:, turn: or turns:'),
);
export const IceServerSchema = v.strictObject({
  urls: v.union([IceUrl, v.pipe(v.array(IceUrl), v.minLength(1), v.maxLength(MAX_ICE_URLS_PER_SERVER))]),
  username: v.optional(v.pipe(v.string(), v.maxLength(MAX_ICE_USERNAME_CHARS))),
  credential: v.optional(v.pipe(v.string(), v.maxLength(MAX_ICE_CREDENTIAL_CHARS))),
});
export type IceServer = v.InferOutput<typeof IceServerSchema>;

export const PeerInfoSchema = v.strictObject({
  peerId: PeerId,
  /** Milliseconds since the epoch when this peer joined the room. */
  joinedAtMs: v.pipe(v.number(), v.integer(), v.minValue(0)),
});
export type PeerInfo = v.InferOutput<typeof PeerInfoSchema>;

/**
 * How a WebRTC link's data travels (from its selected candidate pair): through
 * a TURN relay, or directly, named by the most public candidate in the pair.
 */
export const LINK_CONNECTION_TYPES = ['direct-host', 'direct-srflx', 'direct-prflx', 'relay'] as const;
export type LinkConnectionType = (typeof LINK_CONNECTION_TYPES)[number];
/** What peers report of a link (`closed` links are simply left out). */
export const REPORTED_LINK_STATES = ['connecting', 'connected', 'failed'] as const;
export type ReportedLinkState = (typeof REPORTED_LINK_STATES)[number];
/** Most links in one report (a mesh holds at most its maxPeers, 16 by default, plus ones failing). */
export const MAX_REPORTED_LINKS = 64;

export const LinkReportEntrySchema = v.strictObject({
  peerId: PeerId,
  state: v.picklist(REPORTED_LINK_STATES),
  /** null while unknown (not connected yet, or the stats did not name a pair). */
  type: v.nullable(v.picklist(LINK_CONNECTION_TYPES)),
});
export type LinkReportEntry = v.InferOutput<typeof LinkReportEntrySchema>;

// ---- client → server -------------------------------------------------------

export const ClientMessageSchema = v.variant('type', [
  v.strictObject({
    type: v.literal('join'),
    room: RoomName,
    peerId: PeerId,
    /** Hex Ed25519 signature of joinChallengeBytes(room, nonce). */
    signature: Hex(128),
  }),
  v.strictObject({ type: v.literal('leave') }),
  v.strictObject({ type: v.literal('signal'), to: PeerId, data: SignalDataSchema }),
  /** A ledger transaction, validated by the ledger itself (see packages/ledger). */
  v.strictObject({ type: v.literal('ledger-tx'), requestId: RequestId, tx: v.unknown() }),
  /** Ask for every block from `fromHeight` on, then each new block as it is made. */
  v.strictObject({
    type: v.literal('ledger-subscribe'),
    fromHeight: v.pipe(v.number(), v.integer(), v.minValue(0)),
  }),
  /** This peer's links as it sees them now (replaces its previous report); counted in /metrics. */
  v.strictObject({
    type: v.literal('link-report'),
    links: v.pipe(v.array(LinkReportEntrySchema), v.maxLength(MAX_REPORTED_LINKS)),
  }),
  /** Fresh ICE servers, please (a TURN server refused the credentials with 401); answered by `ice-servers`. */
  v.strictObject({ type: v.literal('ice-refresh') }),
  /** Another random sample of the room's members, please; answered by `sample` (spends the join budget). */
  v.strictObject({ type: v.literal('sample') }),
  /** Is this socket alive? Answered `pong` with the same seq, joined or not (see SIGNALING_PING_INTERVAL_MS). */
  v.strictObject({ type: v.literal('ping'), seq: PingSeq }),
]);
export type ClientMessage = v.InferOutput<typeof ClientMessageSchema>;

// ---- server → client -------------------------------------------------------

export const ServerMessageSchema = v.variant('type', [
  v.strictObject({ type: v.literal('challenge'), nonce: v.pipe(v.string(), v.regex(NONCE_PATTERN)) }),
  v.strictObject({
    type: v.literal('welcome'),
    peerId: PeerId,
    room: RoomName,
    /** A random sample of the other members (all of them when the room is small), not the joining peer. */
    peers: v.pipe(v.array(PeerInfoSchema), v.maxLength(MAX_PRESENCE_SAMPLE_PEERS)),
    /**
     * Members of the room, the joining peer included (on every instance, in
     * clustered mode). Absent from servers that predate sampling (then
     * `peers` was the full list).
     */
    roomSize: v.optional(RoomSize),
    iceServers: v.pipe(v.array(IceServerSchema), v.maxLength(MAX_ICE_SERVERS)),
    heartbeatIntervalMs: v.pipe(v.number(), v.integer(), v.minValue(1)),
  }),
  v.strictObject({ type: v.literal('peer-joined'), peer: PeerInfoSchema }),
  v.strictObject({ type: v.literal('peer-left'), peerId: PeerId }),
  v.strictObject({ type: v.literal('signal'), from: PeerId, data: SignalDataSchema }),
  v.strictObject({
    type: v.literal('error'),
    code: v.picklist(SIGNALING_ERROR_CODES),
    message: v.pipe(v.string(), v.maxLength(1024)),
    /** Set when the error answers a request that carried an id (e.g. ledger-tx). */
    requestId: v.optional(RequestId),
  }),
  v.strictObject({
    type: v.literal('ledger-tx-result'),
    requestId: RequestId,
    ok: v.boolean(),
    /** Why the tx failed when ok is false (ledger-codes.ts; packages/ledger README says what each means). */
    code: v.optional(v.picklist(LEDGER_SUBMIT_ERROR_CODES)),
    message: v.optional(v.pipe(v.string(), v.maxLength(1024))),
  }),
  /** A block in the ledger's JSON form, verified by the peer's light client. */
  v.strictObject({ type: v.literal('ledger-block'), block: v.unknown() }),
  /** The answer to `sample`: another random sample of the other members, and the room's size. */
  v.strictObject({
    type: v.literal('sample'),
    peers: v.pipe(v.array(PeerInfoSchema), v.maxLength(MAX_PRESENCE_SAMPLE_PEERS)),
    roomSize: RoomSize,
  }),
  /** The answer to `ice-refresh`: what a new welcome would carry (fresh TURN credentials). */
  v.strictObject({
    type: v.literal('ice-servers'),
    iceServers: v.pipe(v.array(IceServerSchema), v.maxLength(MAX_ICE_SERVERS)),
  }),
  /** The answer to `ping`: the same seq. */
  v.strictObject({ type: v.literal('pong'), seq: PingSeq }),
]);
export type ServerMessage = v.InferOutput<typeof ServerMessageSchema>;

export class SignalingMessageError extends CodedError<'invalid-message' | 'message-too-large'> {
  override readonly name = 'SignalingMessageError';
}

const textEncoder = new TextEncoder();

function parseWith<T extends v.GenericSchema>(schema: T, raw: string | Uint8Array): v.InferOutput<T> {
  const bytes = typeof raw === 'string' ? textEncoder.encode(raw).length : raw.length;
  if (bytes > MAX_SIGNALING_MESSAGE_BYTES) {
    throw new SignalingMessageError(
      'message-too-large',
      `message is ${bytes} bytes; the limit is ${MAX_SIGNALING_MESSAGE_BYTES}`,
    );
  }
  const text = typeof raw === 'string' ? raw : new TextDecoder('utf-8', { fatal: false }).decode(raw);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new SignalingMessageError('invalid-message', 'message is not valid JSON');
  }
  const result = v.safeParse(schema, json);
  if (!result.success) {
    throw new SignalingMessageError('invalid-message', invalidValueText('message', result.issues));
  }
  return result.output;
}

/** Validates a message a client sent. Throws SignalingMessageError. */
export function parseClientMessage(raw: string | Uint8Array): ClientMessage {
  return parseWith(ClientMessageSchema, raw);
}

/** Validates a message the server sent. Throws SignalingMessageError. */
export function parseServerMessage(raw: string | Uint8Array): ServerMessage {
  return parseWith(ServerMessageSchema, raw);
}

/** The bytes a peer signs to join `room` after receiving `nonce`. */
export function joinChallengeBytes(room: string, nonce: string): Uint8Array {
  return textEncoder.encode(`peerbench-join/v1\n${room}\n${nonce}`);
}
