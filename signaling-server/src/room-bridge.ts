/**
 * Rooms across instances, the NATS side: presence and SDP/ICE signals of one
 * room travel between signaling server instances over core NATS subjects
 * (not JetStream: relay is ephemeral, a lost message is a lost ICE candidate
 * as on a dropped socket). clustered-rooms.ts decides what they mean.
 *
 *   <prefix>.presence           every instance, every room: join, leave, alive (the
 *                               list of an instance's members of one room, in parts
 *                               of MAX_ALIVE_PEERS when longer), sync
 *   <prefix>.signal.<instance>  signals for members connected to that instance
 *
 * Every message is validated on arrival (another instance is another process
 * on the network: its bugs must not reach a client).
 */
import { connect, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import {
  PEER_ID_PATTERN,
  PeerInfoSchema,
  ROOM_NAME_PATTERN,
  type SignalData,
  SignalDataSchema,
} from '@peerbench/protocol';
import * as v from 'valibot';

/** Most members in one alive message (~110 bytes each, far below NATS's 1 MB default payload); more go in parts. */
export const MAX_ALIVE_PEERS = 500;
/** Instance ids appear in subjects: letters, digits, - and _. */
export const INSTANCE_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** Subject prefixes: dot-separated tokens of the same characters. */
const PREFIX_PATTERN = /^[A-Za-z0-9_-]{1,64}(\.[A-Za-z0-9_-]{1,64}){0,7}$/;

const InstanceId = v.pipe(v.string(), v.regex(INSTANCE_ID_PATTERN));
const RoomName = v.pipe(v.string(), v.regex(ROOM_NAME_PATTERN));
const PeerId = v.pipe(v.string(), v.regex(PEER_ID_PATTERN));

export const PresenceMessageSchema = v.variant('t', [
  v.strictObject({ t: v.literal('join'), i: InstanceId, room: RoomName, peer: PeerInfoSchema }),
  v.strictObject({ t: v.literal('leave'), i: InstanceId, room: RoomName, peerId: PeerId }),
  v.strictObject({
    t: v.literal('alive'),
    i: InstanceId,
    room: RoomName,
    peers: v.pipe(v.array(PeerInfoSchema), v.maxLength(MAX_ALIVE_PEERS)),
    /** One part of a list too long for one message: members missing from it are not gone. */
    partial: v.optional(v.literal(true)),
  }),
  v.strictObject({ t: v.literal('sync'), i: InstanceId }),
]);
export type PresenceMessage = v.InferOutput<typeof PresenceMessageSchema>;

export const BridgedSignalSchema = v.strictObject({
  room: RoomName,
  from: PeerId,
  to: PeerId,
  data: SignalDataSchema,
});
export interface BridgedSignal {
  room: string;
  from: string;
  to: string;
  data: SignalData;
}

/** What receives the bridge's traffic (ClusteredRooms). */
export interface RoomBridgeHandler {
  presence(msg: PresenceMessage): void;
  signal(msg: BridgedSignal): void;
  /** The bridge stopped: stop timers, forget remote members. */
  detach(): void;
}

/** The transport ClusteredRooms needs; NatsRoomBridge is the real one. */
export interface RoomBridge {
  readonly instanceId: string;
  attach(handler: RoomBridgeHandler): void;
  /** `i` is filled in with this instance's id. */
  publishPresence(msg: DistributiveOmit<PresenceMessage, 'i'>): void;
  sendSignal(instanceId: string, msg: BridgedSignal): void;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export interface NatsRoomBridgeOptions {
  /** NATS URLs (all nodes), or an open connection (then not closed by stop()). */
  servers?: string | string[];
  connection?: NatsConnection;
  /** This instance's id (subject-safe); signals for its members arrive on <prefix>.signal.<id>. */
  instanceId: string;
  /** Subject prefix, one per network (the CLI uses pb.rooms.<genesis tag>). Default `pb.rooms`. */
  prefix?: string;
  /** Messages that failed validation (for logs). */
  onInvalid?: (subject: string, reason: string) => void;
}

export class NatsRoomBridge implements RoomBridge {
  readonly instanceId: string;
  private readonly prefix: string;
  private handler: RoomBridgeHandler | undefined;
  private readonly subs: Subscription[] = [];
  private stopped = false;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly ownsConnection: boolean,
    private readonly o: NatsRoomBridgeOptions,
  ) {
    this.instanceId = o.instanceId;
    this.prefix = o.prefix ?? 'pb.rooms';
  }

  static async open(options: NatsRoomBridgeOptions): Promise<NatsRoomBridge> {
    if (!INSTANCE_ID_PATTERN.test(options.instanceId))
      throw new Error(`instance id ${options.instanceId.slice(0, 80)} is not subject-safe`);
    if (options.prefix !== undefined && !PREFIX_PATTERN.test(options.prefix))
      throw new Error(`subject prefix ${options.prefix.slice(0, 80)} is not valid`);
    const nc =
      options.connection ??
      (await connect({
        servers: options.servers ?? '127.0.0.1:4222',
        name: `${options.instanceId}-rooms`,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
      }));
    const bridge = new NatsRoomBridge(nc, !options.connection, options);
    bridge.subscribe(`${bridge.prefix}.presence`, PresenceMessageSchema, (m) => {
      if (m.i !== bridge.instanceId) bridge.handler?.presence(m);
    });
    bridge.subscribe(`${bridge.prefix}.signal.${bridge.instanceId}`, BridgedSignalSchema, (m) =>
      bridge.handler?.signal(m),
    );
    // Our subscriptions are in place on the server before anyone answers the sync.
    await nc.flush();
    return bridge;
  }

  attach(handler: RoomBridgeHandler): void {
    this.handler?.detach();
    this.handler = handler;
    // A new instance asks every other one for its members now rather than at their next alive.
    this.publishPresence({ t: 'sync' });
  }

  publishPresence(msg: DistributiveOmit<PresenceMessage, 'i'>): void {
    this.publish(`${this.prefix}.presence`, { ...msg, i: this.instanceId });
  }

  sendSignal(instanceId: string, msg: BridgedSignal): void {
    if (!INSTANCE_ID_PATTERN.test(instanceId)) return;
    this.publish(`${this.prefix}.signal.${instanceId}`, msg);
  }

  get connected(): boolean {
    return !this.nc.isClosed();
  }

  /** Unsubscribes (after flushing what was published, e.g. the leaves of a stopping server). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.handler?.detach();
    this.handler = undefined;
    await this.nc.flush().catch(() => undefined);
    for (const s of this.subs) s.unsubscribe();
    if (this.ownsConnection) await this.nc.close().catch(() => undefined);
  }

  private publish(subject: string, body: unknown): void {
    if (this.stopped || this.nc.isClosed()) return;
    try {
      this.nc.publish(subject, JSON.stringify(body));
    } catch {
      // Disconnected and the reconnect buffer is full: the next alive repairs presence.
    }
  }

  private subscribe<S extends v.GenericSchema>(
    subject: string,
    schema: S,
    deliver: (msg: v.InferOutput<S>) => void,
  ): void {
    const sub = this.nc.subscribe(subject, {
      callback: (err, m) => {
        if (err || this.stopped) return;
        let parsed: v.SafeParseResult<S>;
        try {
          parsed = v.safeParse(schema, JSON.parse(m.string()));
        } catch {
          this.o.onInvalid?.(subject, 'not JSON');
          return;
        }
        if (!parsed.success) {
          this.o.onInvalid?.(subject, parsed.issues[0]?.message ?? 'invalid');
          return;
        }
        try {
          deliver(parsed.output);
        } catch (e) {
          this.o.onInvalid?.(subject, `handler failed: ${e instanceof Error ? e.message : String(e)}`);
        }
      },
    });
    this.subs.push(sub);
  }
}
