/**
 * A Peer in a worker, driven from the main thread.
 *
 *  worker: `hostPeer(port, peer)` runs commands (start/stop/pause/resume)
 *    and posts the peer's snapshots, at most one per `snapshotIntervalMs`
 *    (status, connection and error changes go at once). Histories are sent
 *    as deltas (the points after the last one sent), so a snapshot costs the
 *    main thread a few hundred bytes to receive, not the whole chart history.
 *  main:   `new RemotePeer(port, initial)` has the Peer's control surface
 *    (start/stop/pause/resume/getSnapshot/subscribe) and rebuilds full
 *    snapshots from the deltas. Snapshots are validated on arrival.
 */
import { Emitter } from '@peerbench/mesh';
import { PendingCalls } from '@peerbench/protocol';
import * as v from 'valibot';
import { appendNewPoints } from '../peer-view.js';
import type { BlockPoint, PeerSnapshot, StepPoint } from '../state.js';
import type { BridgeOptions, MessagePortLike } from './port.js';
import { CallIdSchema, MessageTextSchema, PortInbox } from './port.js';

/** Snapshots posted per second at most: the UI coalesces to 5/s anyway. */
export const SNAPSHOT_POST_MS = 100;
/** Points kept in the rebuilt histories (the Peer's own default historyLimit). */
export const REMOTE_HISTORY_LIMIT = 2000;
/** stop() resolves after this even if the worker never answers (it is about to be terminated). */
export const STOP_TIMEOUT_MS = 10_000;

export type PeerCommand = 'start' | 'stop' | 'pause' | 'resume';

/** What hostPeer drives (packages/peer's Peer satisfies it). */
export interface HostedPeer {
  start(): Promise<void>;
  stop(): Promise<void>;
  pause(): void | Promise<void>;
  resume(): void | Promise<void>;
  getSnapshot(): PeerSnapshot;
  subscribe(cb: (s: PeerSnapshot) => void): () => void;
}

const Num = v.pipe(v.number(), v.finite());
const NullableNum = v.nullable(Num);
const Text = v.pipe(v.string(), v.maxLength(4000));
const ErrorSchema = v.nullable(v.looseObject({ code: Text, message: Text }));
const StepPointSchema = v.looseObject({
  step: Num,
  timeMs: Num,
  loss: Num,
  accuracy: v.optional(Num),
  offlineAccuracy: v.optional(Num),
});
const BlockPointSchema = v.looseObject({ height: Num, timeMs: Num, stake: Num, rank: Num, tau: Num });
const BackendName = v.picklist(['webgpu', 'webgl', 'wasm', 'cpu']);
const SnapshotSchema = v.looseObject({
  peerId: Text,
  uid: v.nullable(v.pipe(v.number(), v.integer())),
  room: Text,
  status: v.picklist(['stopped', 'starting', 'running', 'paused', 'stopping', 'error']),
  connection: v.picklist(['idle', 'connecting', 'connected', 'reconnecting', 'closed']),
  error: ErrorSchema,
  backend: v.nullable(
    v.looseObject({
      chosen: BackendName,
      forced: v.boolean(),
      attempts: v.array(
        v.looseObject({
          backend: BackendName,
          ok: v.boolean(),
          reason: v.optional(Text),
          trial: v.optional(v.looseObject({ firstStepMs: Num, stepMs: Num, steps: Num })),
        }),
      ),
      basis: v.optional(v.picklist(['forced', 'order', 'trial'])),
    }),
  ),
  step: Num,
  loss: NullableNum,
  accuracy: NullableNum,
  offlineAccuracy: v.optional(Num),
  lossHistory: v.pipe(v.array(StepPointSchema), v.maxLength(REMOTE_HISTORY_LIMIT * 4)),
  blockHistory: v.pipe(v.array(BlockPointSchema), v.maxLength(REMOTE_HISTORY_LIMIT * 4)),
  peers: v.pipe(
    v.array(
      v.looseObject({
        peerId: Text,
        uid: v.nullable(Num),
        online: v.boolean(),
        isSelf: v.boolean(),
        latencyMs: NullableNum,
        gateWeight: Num,
        weight: Num,
        stake: Num,
        rank: Num,
      }),
    ),
    v.maxLength(10_000),
  ),
  network: v.nullable(
    v.looseObject({
      height: Num,
      tau: Num,
      peers: v.array(v.looseObject({ uid: Num, peerId: Text, stake: Num, rank: Num })),
      weights: v.array(v.array(v.tuple([Num, Num]))),
      selfWeightsInRank: v.optional(v.boolean()),
    }),
  ),
  stats: v.optional(v.looseObject({})),
  neighbourhood: v.optional(
    v.looseObject({
      maxLinks: Num,
      networkSize: NullableNum,
      neighbours: v.pipe(
        v.array(
          v.looseObject({
            peerId: Text,
            reason: v.picklist(['kept', 'exploring']),
            sinceHeight: Num,
            score: NullableNum,
            rank: NullableNum,
          }),
        ),
        v.maxLength(10_000),
      ),
      triedCount: Num,
    }),
  ),
});

const UpSchema = v.variant('t', [
  v.object({ t: v.literal('snapshot'), snapshot: SnapshotSchema }),
  v.object({
    t: v.literal('cmd-result'),
    id: CallIdSchema,
    ok: v.boolean(),
    message: v.optional(MessageTextSchema),
  }),
]);

const DownSchema = v.object({
  t: v.literal('cmd'),
  id: CallIdSchema,
  cmd: v.picklist(['start', 'stop', 'pause', 'resume']),
});

/** Points of `history` after `lastKey` (histories only grow at the end). */
function tailAfter<T>(history: readonly T[], key: (p: T) => number, lastKey: number): T[] {
  let start = history.length;
  while (start > 0 && key(history[start - 1]!) > lastKey) start--;
  return history.slice(start);
}

const lossKey = (p: StepPoint) => p.timeMs;
const blockKey = (p: BlockPoint) => p.height;

export interface HostedPeerHandle {
  /** Stops posting and listening (the peer itself is not stopped). */
  stop(): void;
}

/** Worker side: drives `peer` from the port and posts its snapshots. */
export function hostPeer(
  port: MessagePortLike,
  peer: HostedPeer,
  opts: BridgeOptions & { snapshotIntervalMs?: number } = {},
): HostedPeerHandle {
  const interval = opts.snapshotIntervalMs ?? SNAPSHOT_POST_MS;
  let lastLoss = Number.NEGATIVE_INFINITY;
  let lastBlock = Number.NEGATIVE_INFINITY;
  let lastPosted: PeerSnapshot | null = null;
  let lastPostAt = Number.NEGATIVE_INFINITY;
  let timer: ReturnType<typeof setTimeout> | null = null;

  const post = () => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    if (inbox.closed) return;
    const s = peer.getSnapshot();
    if (s === lastPosted) return;
    const lossHistory = tailAfter(s.lossHistory, lossKey, lastLoss);
    const blockHistory = tailAfter(s.blockHistory, blockKey, lastBlock);
    if (lossHistory.length > 0) lastLoss = lossKey(lossHistory[lossHistory.length - 1]!);
    if (blockHistory.length > 0) lastBlock = blockKey(blockHistory[blockHistory.length - 1]!);
    lastPosted = s;
    lastPostAt = Date.now();
    port.postMessage({ t: 'snapshot', snapshot: { ...s, lossHistory, blockHistory } }, []);
  };

  const onSnapshot = (s: PeerSnapshot) => {
    const prev = lastPosted;
    const urgent =
      !prev || prev.status !== s.status || prev.connection !== s.connection || prev.error !== s.error;
    const wait = lastPostAt + interval - Date.now();
    if (urgent || wait <= 0) post();
    else if (timer === null) timer = setTimeout(post, wait);
  };

  const inbox = new PortInbox(
    port,
    DownSchema,
    ({ id, cmd }) => {
      const run = async () => {
        switch (cmd) {
          case 'start':
            return peer.start();
          case 'stop':
            return peer.stop();
          case 'pause':
            return peer.pause();
          case 'resume':
            return peer.resume();
        }
      };
      run().then(
        () => {
          post();
          if (!inbox.closed) port.postMessage({ t: 'cmd-result', id, ok: true }, []);
        },
        (err: unknown) => {
          post();
          if (!inbox.closed)
            port.postMessage(
              {
                t: 'cmd-result',
                id,
                ok: false,
                message: (err instanceof Error ? err.message : String(err)).slice(0, 2000),
              },
              [],
            );
        },
      );
    },
    opts,
  );
  const unsubscribe = peer.subscribe(onSnapshot);
  post();

  return {
    stop: () => {
      if (inbox.closed) return;
      post();
      inbox.close();
      if (timer !== null) clearTimeout(timer);
      unsubscribe();
    },
  };
}

/** Main side: the control surface of a Peer running in a worker. */
export class RemotePeer {
  private snapshot: PeerSnapshot;
  private readonly events = new Emitter<{ snapshot: [PeerSnapshot] }>();
  /** Commands waiting for the worker's answer; only `stop` has a deadline (the worker is terminated after). */
  private readonly pending = new PendingCalls<void>({
    timeoutError: (ms) => new Error(`the worker did not answer within ${ms} ms`),
    abortError: () => new Error('aborted'),
  });
  private readonly inbox: PortInbox<typeof UpSchema>;

  constructor(
    private readonly port: MessagePortLike,
    initial: PeerSnapshot,
    private readonly opts: BridgeOptions & { historyLimit?: number } = {},
  ) {
    this.snapshot = initial;
    this.inbox = new PortInbox(port, UpSchema, (msg) => this.onMessage(msg), opts);
  }

  /** Snapshots and answers from the worker dropped because they failed validation. */
  get dropped(): number {
    return this.inbox.dropped;
  }

  getSnapshot(): PeerSnapshot {
    return this.snapshot;
  }

  subscribe(cb: (s: PeerSnapshot) => void): () => void {
    return this.events.on('snapshot', cb);
  }

  start(): Promise<void> {
    return this.command('start');
  }

  /** Resolves when the worker's peer has stopped (and saved), or after STOP_TIMEOUT_MS. */
  stop(): Promise<void> {
    return this.command('stop', STOP_TIMEOUT_MS).catch(() => undefined);
  }

  pause(): Promise<void> {
    return this.command('pause');
  }

  resume(): Promise<void> {
    return this.command('resume');
  }

  /** Marks the peer failed (e.g. its worker crashed) and fails pending commands; snapshots stop. */
  fail(code: string, message: string): void {
    this.pending.rejectAll(new Error(message));
    this.publish({ ...this.snapshot, status: 'error', error: { code, message } });
  }

  /** Stops listening; pending commands fail. */
  close(): void {
    if (!this.inbox.close()) return;
    this.pending.rejectAll(new Error('the worker connection was closed'));
  }

  /** Commands waiting for the worker. */
  get pendingCount(): number {
    return this.pending.size;
  }

  private command(cmd: PeerCommand, timeoutMs?: number): Promise<void> {
    if (this.inbox.closed) return Promise.reject(new Error('the worker connection is closed'));
    const call = this.pending.add({ timeoutMs, context: undefined });
    this.port.postMessage({ t: 'cmd', id: call.id, cmd }, []);
    return call.promise;
  }

  private publish(s: PeerSnapshot): void {
    this.snapshot = s;
    this.events.emit('snapshot', s);
  }

  private onMessage(msg: v.InferOutput<typeof UpSchema>): void {
    if (msg.t === 'cmd-result') {
      if (msg.ok) this.pending.resolve(msg.id, undefined);
      else this.pending.reject(msg.id, new Error(msg.message ?? 'the command failed'));
      return;
    }
    const incoming = msg.snapshot as PeerSnapshot;
    const limit = this.opts.historyLimit ?? REMOTE_HISTORY_LIMIT;
    this.publish({
      ...incoming,
      lossHistory: appendNewPoints(this.snapshot.lossHistory, incoming.lossHistory, lossKey, limit),
      blockHistory: appendNewPoints(this.snapshot.blockHistory, incoming.blockHistory, blockKey, limit),
    });
  }
}
