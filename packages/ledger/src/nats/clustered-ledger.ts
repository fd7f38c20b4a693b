/**
 * A ledger instance in clustered mode: many instances (one per signaling
 * server) share one chain through NATS JetStream. Every instance accepts txs
 * (published to the replicated tx stream, acknowledged once JetStream stored
 * them), follows and verifies the block stream into its own store, and serves
 * the same LedgerHook as the embedded ledger. Instances whose key the genesis
 * lists (producersOf) compete for the producer lease; the holder produces.
 */
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Identity } from '@peerbench/protocol';
import { type BlockJson, MAX_BLOCK_TXS } from '../block.js';
import { openVerifiedChain } from '../block-builder.js';
import { isLedgerError, isTxErrorCode, LedgerError } from '../errors.js';
import { type GenesisConfig, parseGenesis, producersOf } from '../genesis.js';
import { DEFAULT_BLOCK_INTERVAL_MS, DEFAULT_SNAPSHOT_EVERY_BLOCKS } from '../producer.js';
import { createLedgerHook, type LedgerHook, type LedgerHookSource } from '../server-hook.js';
import type { LedgerState, LedgerStateView } from '../state.js';
import { type LedgerStore, MemoryStore } from '../store.js';
import { parseTx, verifyTxSignature } from '../transaction.js';
import {
  type ClusteredLedgerOptions,
  type ClusteredSubmitResult,
  type ClusterRole,
  type ClusterStatus,
  DEFAULT_LEASE_TTL_MS,
  DEFAULT_MAX_IN_FLIGHT_SUBMITS,
  DEFAULT_PUBLISH_TIMEOUT_MS,
  FOLLOW_CHECK_MS,
} from './cluster-options.js';
import { BlockFollower } from './follower.js';
import { ProducerLease } from './lease.js';
import { ProducerSession } from './producer-session.js';
import { type ClusterNames, clusterNames, ensureLedgerStreams, LEASE_KEY } from './streams.js';

export * from './cluster-options.js';

export class ClusteredLedger implements LedgerHookSource {
  readonly genesis: GenesisConfig;
  readonly names: ClusterNames;
  readonly instanceId: string;
  readonly hook: LedgerHook;
  private readonly o: ClusteredLedgerOptions;
  private readonly eligible: boolean;
  private readonly leaseTtlMs: number;
  private session: ProducerSession | undefined;
  private leaseTimer: ReturnType<typeof setTimeout> | undefined;
  private leaseTick: Promise<void> = Promise.resolve();
  private running = false;
  private inFlight = 0;
  private connected = true;
  private blocksProducedTotal = 0;
  private followTimer: ReturnType<typeof setInterval> | undefined;
  private lastLag = 0;
  private appliedAtLastCheck = -1;

  private constructor(
    options: ClusteredLedgerOptions,
    genesis: GenesisConfig,
    private readonly nc: NatsConnection,
    private readonly ownsConnection: boolean,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly follower: BlockFollower,
    private readonly lease: ProducerLease,
    private readonly store: LedgerStore,
    private readonly ownsStore: boolean,
  ) {
    this.o = options;
    this.genesis = genesis;
    this.names = clusterNames(genesis);
    this.instanceId = options.instanceId ?? defaultInstanceId(options.identity);
    this.eligible = producersOf(genesis).includes(options.identity.peerId);
    this.leaseTtlMs = options.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS;
    this.hook = createLedgerHook(this);
    void this.watchStatus();
  }

  /** Connects, creates the streams if needed, verifies the local store and starts following (and competing for the lease). */
  static async open(options: ClusteredLedgerOptions): Promise<ClusteredLedger> {
    const genesis = parseGenesis(options.genesis);
    const store = options.store ?? new MemoryStore();
    const ownsStore = !options.store;
    const ownsConnection = !options.connection;
    const instanceId = options.instanceId ?? defaultInstanceId(options.identity);
    let nc: NatsConnection | undefined = options.connection;
    try {
      await store.saveGenesis(genesis);
      const { client, head } = await openVerifiedChain(store, genesis);
      nc ??= await connect({
        servers: options.servers ?? '127.0.0.1:4222',
        name: instanceId,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
      });
      const timeout = options.publishTimeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS;
      const jsm = await jetstreamManager(nc, { timeout });
      const js = jetstream(nc, { timeout });
      const names = clusterNames(genesis);
      const leaseTtlMs = options.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS;
      const kv = await ensureLedgerStreams(nc, jsm, names, { replicas: options.replicas ?? 1, leaseTtlMs });
      const follower = new BlockFollower({
        js,
        stream: names.blockStream,
        client,
        store,
        head,
        snapshotEveryBlocks: options.snapshotEveryBlocks ?? DEFAULT_SNAPSHOT_EVERY_BLOCKS,
        onInvalidBlock: options.onInvalidBlock,
      });
      const lease = new ProducerLease(
        kv,
        LEASE_KEY,
        { instanceId, peerId: options.identity.peerId },
        leaseTtlMs,
        options.now,
      );
      const ledger = new ClusteredLedger(
        { ...options, instanceId },
        genesis,
        nc,
        ownsConnection,
        js,
        jsm,
        follower,
        lease,
        store,
        ownsStore,
      );
      await follower.start();
      ledger.running = true;
      ledger.followTimer = setInterval(() => void ledger.checkFollowing(), FOLLOW_CHECK_MS);
      if (ledger.eligible) ledger.scheduleLease(0);
      return ledger;
    } catch (e) {
      if (ownsConnection) await nc?.close().catch(() => undefined);
      if (ownsStore) await store.close().catch(() => undefined);
      throw e;
    }
  }

  get role(): ClusterRole {
    if (!this.eligible) return 'observer';
    return this.session ? 'producer' : 'follower';
  }

  get height(): number {
    return this.follower.height;
  }

  /** The verified state (read-only). */
  get ledgerState(): LedgerState {
    return this.follower.ledgerState;
  }

  /** Block stream sequence of the last message this instance handled. */
  get lastAppliedSeq(): number {
    return this.follower.lastSeq;
  }

  status(): ClusterStatus {
    return {
      role: this.role,
      instanceId: this.instanceId,
      height: this.follower.height,
      lagBlocks: this.lastLag,
      natsConnected: this.connected && !this.nc.isClosed(),
      blocksProduced: this.blocksProducedTotal + (this.session?.produced ?? 0),
    };
  }

  /** status() with the lag measured now against the block stream (one JetStream request). */
  async statusWithLag(): Promise<ClusterStatus> {
    const s = this.status();
    try {
      const info = await this.jsm.streams.info(this.names.blockStream);
      s.lagBlocks = Math.max(0, info.state.last_seq - this.follower.lastSeq);
    } catch {
      s.lagBlocks = -1;
    }
    return s;
  }

  state(): LedgerStateView {
    return this.follower.state();
  }

  head(): BlockJson | undefined {
    return this.follower.head();
  }

  blocksFrom(from: number, limit: number): Promise<BlockJson[]> {
    return this.store.blocksFrom(from, limit);
  }

  onBlock(cb: (b: { block: BlockJson; hash: string }) => void): () => void {
    return this.follower.onBlock(cb);
  }

  /**
   * Validates a tx against the verified state (as the embedded producer's
   * admission does, signature included) and publishes it to the tx stream with
   * its hash as msgID. ok only once JetStream acknowledged storing it (a
   * duplicate, already stored, is ok too). Never throws.
   */
  async submitTx(input: unknown): Promise<ClusteredSubmitResult> {
    try {
      const tx = parseTx(input);
      const state = this.follower.ledgerState;
      state.checkTx(tx);
      if (!(await verifyTxSignature(tx, state.signerKey(tx))))
        throw new LedgerError('bad-signature', 'signature does not verify against the signer key');
      if (this.inFlight >= (this.o.maxInFlightSubmits ?? DEFAULT_MAX_IN_FLIGHT_SUBMITS))
        throw new LedgerError('mempool-full', 'too many submissions waiting for JetStream; retry');
      this.inFlight++;
      try {
        await this.js.publish(this.names.txSubject, JSON.stringify(tx.json), {
          msgID: tx.hash,
          timeout: this.o.publishTimeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS,
        });
      } catch (e) {
        // On the way to the ledger, not a verdict on the tx: retry (protocol's path codes).
        return {
          ok: false,
          code: 'unavailable',
          message: `tx stream did not acknowledge: ${e instanceof Error ? e.message : String(e)}`,
        };
      } finally {
        this.inFlight--;
      }
      return { ok: true, hash: tx.hash };
    } catch (e) {
      if (isLedgerError(e) && isTxErrorCode(e.code)) return { ok: false, code: e.code, message: e.message };
      return { ok: false, code: 'malformed', message: e instanceof Error ? e.message : String(e) };
    }
  }

  /**
   * Stops producing and following. releaseLease (default true) hands the lease
   * back so another instance takes over at once; false leaves it to expire,
   * as a crashed instance would.
   */
  async stop(options: { releaseLease?: boolean } = {}): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.leaseTimer) clearTimeout(this.leaseTimer);
    if (this.followTimer) clearInterval(this.followTimer);
    await this.leaseTick;
    await this.endTerm();
    if (options.releaseLease ?? true) await this.lease.release();
    else this.lease.drop();
    await this.follower.stop();
    if (this.ownsConnection) await this.nc.close().catch(() => undefined);
    if (this.ownsStore) await this.store.close().catch(() => undefined);
  }

  /** Measures the lag; if the stream moved on and nothing was applied since the last check, resubscribes. */
  private async checkFollowing(): Promise<void> {
    const applied = this.follower.lastSeq;
    try {
      const info = await this.jsm.streams.info(this.names.blockStream);
      this.lastLag = Math.max(0, info.state.last_seq - this.follower.lastSeq);
      if (this.lastLag > 0 && applied === this.appliedAtLastCheck && this.follower.lastSeq === applied)
        this.follower.kick();
    } catch {
      // No JetStream answer now (an election, or NATS is gone): unknown until the next check.
      this.lastLag = -1;
    }
    this.appliedAtLastCheck = applied;
  }

  private scheduleLease(delayMs: number): void {
    if (!this.running) return;
    this.leaseTimer = setTimeout(() => {
      this.leaseTick = this.tickLease().finally(() => {
        // Renew at a quarter of the TTL; a free lease is polled ten times per TTL.
        this.scheduleLease(this.lease.held ? this.leaseTtlMs / 4 : Math.max(50, this.leaseTtlMs / 10));
      });
    }, delayMs);
  }

  private async tickLease(): Promise<void> {
    if (!this.running) return;
    if (this.lease.held) {
      if (!(await this.lease.renew()) || this.session?.signal.aborted) {
        this.lease.drop();
        await this.endTerm();
        this.o.onEvent?.({ type: 'lease-lost' });
      } else if (!this.session) {
        // A lease with no producing session behind it would stop the chain for
        // as long as this instance lives: hand it on.
        await this.lease.release();
        this.o.onEvent?.({ type: 'lease-lost' });
      }
      return;
    }
    if (!(await this.lease.tryAcquire())) return;
    if (!this.running) {
      await this.lease.release();
      return;
    }
    this.o.onEvent?.({ type: 'lease-acquired' });
    this.session = new ProducerSession({
      js: this.js,
      jsm: this.jsm,
      names: this.names,
      follower: this.follower,
      lease: this.lease,
      identity: this.o.identity,
      blockIntervalMs: this.o.blockIntervalMs ?? DEFAULT_BLOCK_INTERVAL_MS,
      maxTxsPerBlock: Math.min(this.o.maxTxsPerBlock ?? MAX_BLOCK_TXS, MAX_BLOCK_TXS),
      maxPayloadBytes: this.nc.info?.max_payload ?? 1024 * 1024,
      snapshotEveryBlocks: this.o.snapshotEveryBlocks ?? DEFAULT_SNAPSHOT_EVERY_BLOCKS,
      publishTimeoutMs: this.o.publishTimeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS,
      now: this.o.now ?? Date.now,
      onProduceError: (e) => this.o.onEvent?.({ type: 'produce-error', message: e.message }),
      onProduced: (p) =>
        this.o.onEvent?.({
          type: 'block-produced',
          height: p.height,
          txCount: p.txCount,
          blockTimeMs: p.buildMs,
        }),
    });
    const session = this.session;
    // A term that ends by itself (lease no longer valid) hands the lease on.
    void session.start().then(async () => {
      if (this.session === session && this.running) {
        await this.lease.release();
        await this.endTerm();
        this.o.onEvent?.({ type: 'lease-lost' });
      }
    });
  }

  private async endTerm(): Promise<void> {
    const s = this.session;
    this.session = undefined;
    if (!s) return;
    await s.stop();
    this.blocksProducedTotal += s.produced;
  }

  private async watchStatus(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === 'disconnect') this.connected = false;
      else if (s.type === 'reconnect') this.connected = true;
    }
  }
}

function defaultInstanceId(identity: Identity): string {
  return `${identity.peerId.slice(0, 8)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Opens a clustered ledger instance (see ClusteredLedger.open). */
export function openClusteredLedger(options: ClusteredLedgerOptions): Promise<ClusteredLedger> {
  return ClusteredLedger.open(options);
}
