/**
 * Which ledger a CLI instance mounts, opened from its LedgerSettings (env.ts):
 *
 *   embedded (default)  this process produces alone: SQLite in the data dir,
 *                       the producer key in <dataDir>/producer.key.
 *   clustered (--nats)  a ClusteredLedger (`@peerbench/ledger/nats`): the
 *                       chain lives in NATS JetStream streams shared by every
 *                       instance; this one follows and verifies it into its own
 *                       store and competes for the producer lease when its key
 *                       is in the genesis' `producers`.
 *
 * Both hand the server the same LedgerHook (ledger-relay.ts and
 * http-routes.ts see no difference), whose status() feeds /health and
 * /metrics. Kept out of server.ts and cli.ts so the server core never imports
 * NATS: the embedded default loads none of it.
 *
 * Clustered instances get (see the README, "Several instances on NATS"):
 *   - their key from --key-file or <dataDir>/producer.key (created when
 *     missing; `--print-peer-id` prints it, for the genesis);
 *   - the shared genesis from --genesis FILE, made once with
 *     `pnpm cluster-genesis --producers ID,ID,ID` (cluster-genesis.ts) and
 *     copied to every instance: the chain is named after its hash.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  type GenesisConfig,
  genesisHash,
  type LedgerHook,
  type LedgerStatus,
  type LedgerStore,
  parseGenesis,
  producersOf,
  SERVER_MAX_REGISTRATIONS_PER_BLOCK,
  SERVER_REGISTRATION_WORK_BITS,
} from '@peerbench/ledger';
import { loadOrCreateIdentity, openEmbeddedLedger } from '@peerbench/ledger/embedded';
import type { ClusteredLedger } from '@peerbench/ledger/nats';
import { generateIdentity, type Identity } from '@peerbench/protocol';
import type { ClusterSettings, LedgerSettings } from './env.js';
import { SignalingServerError } from './options.js';
import type { NatsRoomBridge, RoomBridge } from './room-bridge.js';

export interface LedgerBackend {
  readonly mode: 'embedded' | 'clustered';
  /** What the server mounts (options.ledger). */
  readonly hook: LedgerHook;
  /** This instance's key (the embedded producer's, or the clustered instance's). */
  readonly identity: Identity;
  status(): LedgerStatus;
  /** One line for the startup log. */
  describe(): string;
  /** Clustered mode: rooms shared with the other instances over NATS (the server's roomBridge option). */
  readonly roomBridge?: RoomBridge;
  /** Stops producing/following and closes the store (and the NATS connections). Call after the server stopped. */
  stop(): Promise<void>;
}

export interface OpenLedgerBackendOptions {
  log?: (line: string) => void;
}

/** Opens the ledger the settings ask for: embedded unless settings.cluster is set. */
export function openLedgerBackend(
  settings: LedgerSettings,
  options: OpenLedgerBackendOptions = {},
): Promise<LedgerBackend> {
  return settings.cluster
    ? openClustered(settings, settings.cluster, options)
    : openEmbedded(settings, options);
}

async function openEmbedded(
  settings: LedgerSettings,
  options: OpenLedgerBackendOptions,
): Promise<LedgerBackend> {
  const ledger = await openEmbeddedLedger({
    ...(settings.dataDir ? { dataDir: settings.dataDir } : {}),
    // A data dir from an older ledger format cannot be continued: keep it
    // (renamed, nothing deleted) and start a new chain rather than refuse to start.
    onIncompatibleStore: 'archive',
    onArchived: (to, reason) =>
      options.log?.(
        `ledger: the data dir could not be continued (${reason}); moved it to ${to}, starting a new chain`,
      ),
    ...(settings.blockIntervalMs !== undefined ? { blockIntervalMs: settings.blockIntervalMs } : {}),
    // Used only when the store is new; see serverGenesisDefaults.
    genesis: serverGenesisDefaults(),
  });
  return {
    mode: 'embedded',
    hook: ledger.hook,
    identity: ledger.identity,
    status: () => ledger.hook.status?.() ?? embeddedStatus(),
    describe: () =>
      `ledger: embedded, ${settings.dataDir ? `SQLite in ${settings.dataDir}` : 'in memory'}, producer ${ledger.identity.peerId.slice(0, 12)}…`,
    stop: () => ledger.stop(),
  };
}

/**
 * A new chain's sybil defence: registrations cost proof of work and a block
 * takes only so many (the rest wait in the mempool). w_ii is left out of R
 * (Bittensor's masked diagonal): measured in apps/swarm, a self-dealer gained
 * 1.4x its honest twin's stake when self-weights counted and 0.4-0.85x when
 * they did not (docs/results/ranking-fidelity.md). The embedded chain and
 * cluster-genesis.ts both start from these.
 */
export function serverGenesisDefaults(): Pick<
  GenesisConfig,
  'registrationWorkBits' | 'maxRegistrationsPerBlock' | 'selfWeightsInRank'
> {
  return {
    registrationWorkBits: SERVER_REGISTRATION_WORK_BITS,
    maxRegistrationsPerBlock: SERVER_MAX_REGISTRATIONS_PER_BLOCK,
    selfWeightsInRank: false,
  };
}

function embeddedStatus(): LedgerStatus {
  return { role: 'embedded', height: 0, lagBlocks: 0, natsConnected: null };
}

/** Reads and validates the shared genesis file (a bad file stops the start with invalid-options). */
export function readGenesisFile(path: string): GenesisConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new SignalingServerError('invalid-options', `cannot read the genesis file: ${String(err)}`);
  }
  try {
    return parseGenesis(JSON.parse(text));
  } catch (err) {
    throw new SignalingServerError(
      'invalid-options',
      `${path} is not a genesis: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

/** The instance's key: the key file (created when missing), or a fresh one that lives as long as the process. */
export async function instanceIdentity(keyFile: string | null): Promise<Identity> {
  if (keyFile === null) return generateIdentity();
  mkdirSync(dirname(keyFile), { recursive: true });
  return loadOrCreateIdentity(keyFile);
}

async function openClustered(
  settings: LedgerSettings,
  cluster: ClusterSettings,
  options: OpenLedgerBackendOptions,
): Promise<LedgerBackend> {
  const genesis = readGenesisFile(cluster.genesisFile);
  const identity = await instanceIdentity(settings.keyFile);
  const eligible = producersOf(genesis).includes(identity.peerId);
  if (!eligible)
    options.log?.(
      `ledger: key ${identity.peerId.slice(0, 12)}… is not among the genesis producers: this instance only follows`,
    );
  // Loaded only here, so an embedded server never loads the NATS client.
  const { openClusteredLedger } = await import('@peerbench/ledger/nats');
  let store: LedgerStore | undefined;
  if (settings.dataDir) {
    mkdirSync(settings.dataDir, { recursive: true });
    const { SqliteStore } = await import('@peerbench/ledger/sqlite');
    // One file per chain, beside (never in place of) an embedded ledger.db.
    store = new SqliteStore(join(settings.dataDir, `clustered-${genesisHash(genesis).slice(0, 16)}.db`));
  }
  let ledger: ClusteredLedger;
  try {
    ledger = await openClusteredLedger({
      servers: cluster.natsUrls,
      genesis,
      identity,
      ...(store ? { store } : {}),
      replicas: cluster.replicas,
      ...(cluster.instanceId !== undefined ? { instanceId: cluster.instanceId } : {}),
      ...(settings.blockIntervalMs !== undefined ? { blockIntervalMs: settings.blockIntervalMs } : {}),
      ...(cluster.leaseTtlMs !== undefined ? { leaseTtlMs: cluster.leaseTtlMs } : {}),
      onInvalidBlock: (r) =>
        options.log?.(`ledger: skipped an invalid block: ${JSON.stringify(r).slice(0, 300)}`),
      onEvent: (e) => {
        if (e.type !== 'block-produced') options.log?.(`ledger: ${JSON.stringify(e)}`);
      },
    });
  } catch (err) {
    await store?.close().catch(() => undefined);
    throw err;
  }
  let roomBridge: NatsRoomBridge;
  try {
    const { NatsRoomBridge } = await import('./room-bridge.js');
    roomBridge = await NatsRoomBridge.open({
      servers: cluster.natsUrls,
      instanceId: ledger.instanceId,
      // One network per genesis: instances of another chain on the same NATS never share rooms.
      prefix: `pb.rooms.${ledger.names.tag}`,
      onInvalid: (subject, reason) => options.log?.(`rooms: dropped a message on ${subject}: ${reason}`),
    });
  } catch (err) {
    await ledger.stop();
    await store?.close().catch(() => undefined);
    throw err;
  }
  return {
    mode: 'clustered',
    hook: ledger.hook,
    roomBridge,
    identity,
    status: () => ledger.status(),
    describe: () =>
      `ledger: clustered on NATS ${cluster.natsUrls.join(',')} (R${cluster.replicas}), instance ${ledger.instanceId}, ` +
      `key ${identity.peerId.slice(0, 12)}… (${eligible ? 'may produce' : 'observer'}), ` +
      `${settings.dataDir ? `SQLite in ${settings.dataDir}` : 'in memory'}, chain ${ledger.names.tag}`,
    stop: async () => {
      await roomBridge.stop();
      await ledger.stop();
      // The ledger closes only a store it opened itself.
      await store?.close().catch(() => undefined);
    },
  };
}
