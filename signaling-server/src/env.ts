/**
 * Turns command-line flags and environment variables into server options.
 * Kept apart from cli.ts so the ledger (or anything else) can be added in one
 * place, `buildServerFromEnv`, and so the parsing is testable.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { LedgerHook } from '@peerbench/ledger';
import {
  ICE_URL_PATTERN,
  type IceServer,
  MAX_ICE_SERVERS,
  MAX_ICE_URL_CHARS,
  MAX_ICE_URLS_PER_SERVER,
} from '@peerbench/protocol';
import { parseBudgetSpec } from './address-budget.js';
import { type ClusterSettings, checkClusterSettings } from './cluster-settings.js';
import { SignalingServerError, type SignalingServerOptions } from './options.js';
import type { RoomBridge } from './room-bridge.js';
import { createSignalingServer, type SignalingServer } from './server.js';
import {
  checkTurnSecret,
  checkTurnTtl,
  DEFAULT_TURN_CREDENTIAL_TTL_S,
  iceServersWithTurnCredentials,
  TurnCredentialError,
  type TurnRestConfig,
} from './turn-credentials.js';

/** The web app's build output in this repository, served when it exists and no --static is given. */
export const DEFAULT_STATIC_DIR = fileURLToPath(new URL('../../apps/web/dist', import.meta.url));

/** Where the CLI keeps the ledger (ledger.db, producer.key) unless told otherwise; gitignored. */
export const DEFAULT_DATA_DIR = fileURLToPath(new URL('../../.data/ledger', import.meta.url));

export const CLI_USAGE = `usage: pnpm --filter @peerbench/signaling-server start [--] [flags]   (or: tsx src/cli.ts [flags])
flags: [--help] [--host HOST] [--port PORT] [--static DIR]
  [--max-connections-per-ip N] [--max-connections N] [--max-rooms N] [--max-peers-per-room N]
  [--public-room NAME] [--presence-sample-size N] [--degree N]
  [--heartbeat-interval-ms MS] [--trust-proxy] [--allowed-origins ORIGIN,...]
  [--address-budgets KIND=RATE/BURST,...] [--upgrade-timeout-ms MS] [--max-open-sockets N]
  [--data-dir DIR | --memory-ledger] [--block-interval-ms MS]
  [--nats URL,... --genesis FILE [--key-file FILE] [--nats-replicas N] [--lease-ttl-ms MS] [--instance-id NAME]]
  [--print-peer-id]
  [--stun-urls URL,...] [--turn-urls URL,...] [--turn-secret-file FILE] [--turn-ttl-s S]
env: PEERBENCH_HOST PEERBENCH_PORT PEERBENCH_STATIC_DIR PEERBENCH_DATA_DIR PEERBENCH_BLOCK_INTERVAL_MS
     PEERBENCH_STUN_URLS PEERBENCH_TURN_URLS PEERBENCH_TURN_SECRET PEERBENCH_TURN_SECRET_FILE
     PEERBENCH_TURN_TTL_S PEERBENCH_TURN_USERNAME PEERBENCH_TURN_CREDENTIAL
     PEERBENCH_MAX_CONNECTIONS_PER_IP PEERBENCH_MAX_CONNECTIONS PEERBENCH_MAX_ROOMS
     PEERBENCH_MAX_PEERS_PER_ROOM PEERBENCH_HEARTBEAT_INTERVAL_MS PEERBENCH_TRUST_PROXY
     PEERBENCH_ALLOWED_ORIGINS PEERBENCH_NATS_URL PEERBENCH_GENESIS_FILE PEERBENCH_KEY_FILE
     PEERBENCH_NATS_REPLICAS PEERBENCH_LEASE_TTL_MS PEERBENCH_INSTANCE_ID
     PEERBENCH_ADDRESS_BUDGETS PEERBENCH_UPGRADE_TIMEOUT_MS PEERBENCH_MAX_OPEN_SOCKETS
     PEERBENCH_PUBLIC_ROOM PEERBENCH_PRESENCE_SAMPLE_SIZE PEERBENCH_DEGREE
budget kinds: connection message tx join ledger-read ledger-read-bytes (rates per second).
--nats (clustered mode) needs --genesis and its own --data-dir (or --memory-ledger); see the README.
flags win over env; relative paths are read from the directory the command was started in.`;

type Env = Readonly<Record<string, string | undefined>>;

function urlList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** STUN/TURN servers from env; an empty list when none is set (loopback needs none). */
export function iceServersFromEnv(env: Env): IceServer[] {
  const servers: IceServer[] = [];
  const stun = urlList(env.PEERBENCH_STUN_URLS);
  if (stun.length > 0) servers.push({ urls: stun });
  const turn = urlList(env.PEERBENCH_TURN_URLS);
  if (turn.length > 0) {
    const server: IceServer = { urls: turn };
    if (env.PEERBENCH_TURN_USERNAME) server.username = env.PEERBENCH_TURN_USERNAME;
    if (env.PEERBENCH_TURN_CREDENTIAL) server.credential = env.PEERBENCH_TURN_CREDENTIAL;
    servers.push(server);
  }
  return servers;
}

function checkIceUrls(name: string, urls: readonly string[]): void {
  if (urls.length > MAX_ICE_URLS_PER_SERVER) {
    throw new SignalingServerError('invalid-options', `${name}: at most ${MAX_ICE_URLS_PER_SERVER} URLs`);
  }
  for (const url of urls) {
    if (url.length > MAX_ICE_URL_CHARS || !ICE_URL_PATTERN.test(url)) {
      throw new SignalingServerError(
        'invalid-options',
        `${name}: ${url.slice(0, 80)} is not a stun:, stuns:, turn: or turns: URL of at most ${MAX_ICE_URL_CHARS} chars`,
      );
    }
  }
}

/**
 * The TURN REST config (shared secret, see turn-credentials.ts) from flags and
 * env, or null when no secret is configured. The secret comes from a file
 * (--turn-secret-file / PEERBENCH_TURN_SECRET_FILE) or PEERBENCH_TURN_SECRET,
 * never from a flag (flags show in `ps`).
 */
export function turnRestFromEnv(
  flags: { stunUrls?: string; turnUrls?: string; turnSecretFile?: string; turnTtlS?: string },
  env: Env,
): TurnRestConfig | null {
  const stunUrls = urlList(flags.stunUrls ?? env.PEERBENCH_STUN_URLS);
  const turnUrls = urlList(flags.turnUrls ?? env.PEERBENCH_TURN_URLS);
  checkIceUrls('stun urls', stunUrls);
  checkIceUrls('turn urls', turnUrls);
  const secretFile = flags.turnSecretFile ?? (env.PEERBENCH_TURN_SECRET_FILE || undefined);
  let secret = env.PEERBENCH_TURN_SECRET || undefined;
  if (secretFile !== undefined) {
    try {
      secret = readFileSync(secretFile, 'utf8').trim();
    } catch (err) {
      throw new SignalingServerError('invalid-options', `cannot read the TURN secret file: ${String(err)}`);
    }
  }
  const ttlS = integer('turn-ttl-s', flags.turnTtlS ?? env.PEERBENCH_TURN_TTL_S);
  if (secret === undefined) {
    if (ttlS !== undefined)
      throw new SignalingServerError('invalid-options', 'turn-ttl-s needs a TURN secret');
    return null;
  }
  if (turnUrls.length === 0)
    throw new SignalingServerError('invalid-options', 'a TURN secret needs TURN URLs');
  if (env.PEERBENCH_TURN_USERNAME || env.PEERBENCH_TURN_CREDENTIAL) {
    throw new SignalingServerError(
      'invalid-options',
      'give either a TURN secret or a static TURN username/credential, not both',
    );
  }
  const config: TurnRestConfig = { stunUrls, turnUrls, secret, ttlS: ttlS ?? DEFAULT_TURN_CREDENTIAL_TTL_S };
  try {
    checkTurnSecret(config.secret);
    checkTurnTtl(config.ttlS);
  } catch (err) {
    if (err instanceof TurnCredentialError) throw new SignalingServerError('invalid-options', err.message);
    throw err;
  }
  return config;
}

function integer(name: string, value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n)) throw new SignalingServerError('invalid-options', `${name} must be an integer`);
  return n;
}

function flag(value: string | undefined): boolean | undefined {
  if (value === undefined || value === '') return undefined;
  return value === '1' || value.toLowerCase() === 'true' || value.toLowerCase() === 'yes';
}

/** How the CLI opens its ledger: SQLite under dataDir, or in memory when dataDir is null. */
export interface LedgerSettings {
  dataDir: string | null;
  blockIntervalMs: number | undefined;
  /** Clustered mode (ledger-backend.ts) when set; null: the embedded producer (the default). */
  cluster: ClusterSettings | null;
  /** Key file for --print-peer-id (and the clustered instance's key): --key-file, else <dataDir>/producer.key. */
  keyFile: string | null;
}

/** Server options from flags and env (flags win). Throws on unknown flags or bad numbers. */
export function optionsFromEnv(argv: readonly string[], env: Env): SignalingServerOptions {
  return parseCli(argv, env).server;
}

/** Ledger settings from flags and env (flags win); the default is SQLite in DEFAULT_DATA_DIR. */
export function ledgerSettingsFromEnv(argv: readonly string[], env: Env): LedgerSettings {
  return parseCli(argv, env).ledger;
}

/**
 * The flags without a leading `--`: `pnpm … start -- --host …` hands the
 * script the separator too (npm strips it, pnpm does not), and parseArgs would
 * read everything after it as positionals.
 */
function flagsOf(argv: readonly string[]): string[] {
  return argv[0] === '--' ? argv.slice(1) : [...argv];
}

/** True when the command line asks for the usage text (`--help` or `-h`). */
export function wantsHelp(argv: readonly string[]): boolean {
  const flags = flagsOf(argv);
  return flags.includes('--help') || flags.includes('-h');
}

/**
 * A path flag as the user meant it: relative to the directory the command
 * was typed in (INIT_CWD, set by npm and pnpm, which run the script inside
 * the package), not to signaling-server/.
 */
function userPath(path: string, env: Env): string {
  return resolve(env.INIT_CWD || process.cwd(), path);
}

function parseCli(
  argv: readonly string[],
  env: Env,
): { server: SignalingServerOptions; ledger: LedgerSettings } {
  const { values } = parseArgs({
    args: flagsOf(argv),
    strict: true,
    allowPositionals: false,
    options: {
      help: { type: 'boolean', short: 'h' },
      host: { type: 'string' },
      port: { type: 'string' },
      static: { type: 'string' },
      'max-connections-per-ip': { type: 'string' },
      'max-connections': { type: 'string' },
      'max-rooms': { type: 'string' },
      'max-peers-per-room': { type: 'string' },
      'public-room': { type: 'string' },
      'presence-sample-size': { type: 'string' },
      degree: { type: 'string' },
      'heartbeat-interval-ms': { type: 'string' },
      'trust-proxy': { type: 'boolean' },
      'allowed-origins': { type: 'string' },
      'address-budgets': { type: 'string' },
      'upgrade-timeout-ms': { type: 'string' },
      'max-open-sockets': { type: 'string' },
      'data-dir': { type: 'string' },
      'memory-ledger': { type: 'boolean' },
      'block-interval-ms': { type: 'string' },
      nats: { type: 'string' },
      genesis: { type: 'string' },
      'key-file': { type: 'string' },
      'nats-replicas': { type: 'string' },
      'lease-ttl-ms': { type: 'string' },
      'instance-id': { type: 'string' },
      'print-peer-id': { type: 'boolean' },
      'stun-urls': { type: 'string' },
      'turn-urls': { type: 'string' },
      'turn-secret-file': { type: 'string' },
      'turn-ttl-s': { type: 'string' },
    },
  });
  const cluster = clusterSettings(values, env);
  const explicitDataDir = values['data-dir'] ?? (env.PEERBENCH_DATA_DIR || undefined);
  if (cluster && explicitDataDir === undefined && !values['memory-ledger'])
    // Two instances on one machine must not share a key and a SQLite file: no default dir here.
    throw new SignalingServerError(
      'invalid-options',
      '--nats needs --data-dir DIR (one per instance: its key and its copy of the chain) or --memory-ledger',
    );
  const dataDir = values['memory-ledger'] ? null : userPath(explicitDataDir ?? DEFAULT_DATA_DIR, env);
  const keyFlag = values['key-file'] ?? (env.PEERBENCH_KEY_FILE || undefined);
  const ledger: LedgerSettings = {
    dataDir,
    blockIntervalMs: integer(
      'block-interval-ms',
      values['block-interval-ms'] ?? env.PEERBENCH_BLOCK_INTERVAL_MS,
    ),
    cluster,
    keyFile:
      keyFlag !== undefined ? userPath(keyFlag, env) : dataDir !== null ? `${dataDir}/producer.key` : null,
  };
  if (ledger.blockIntervalMs !== undefined && ledger.blockIntervalMs < 100) {
    throw new SignalingServerError('invalid-options', 'block-interval-ms must be at least 100');
  }
  const turnRest = turnRestFromEnv(
    {
      stunUrls: values['stun-urls'],
      turnUrls: values['turn-urls'],
      turnSecretFile: values['turn-secret-file'],
      turnTtlS: values['turn-ttl-s'],
    },
    env,
  );
  const opts: SignalingServerOptions = {};
  if (turnRest) {
    // Each welcome gets credentials of its own, fresh (a reconnecting peer replaces expired ones).
    opts.iceServers = turnRest.stunUrls.length > 0 ? [{ urls: [...turnRest.stunUrls] }] : [];
    opts.iceServersForPeer = (peerId) => iceServersWithTurnCredentials(turnRest, peerId);
  } else {
    opts.iceServers = iceServersFromEnv({
      ...env,
      PEERBENCH_STUN_URLS: values['stun-urls'] ?? env.PEERBENCH_STUN_URLS,
      PEERBENCH_TURN_URLS: values['turn-urls'] ?? env.PEERBENCH_TURN_URLS,
    });
  }
  if (opts.iceServers.length > MAX_ICE_SERVERS) {
    throw new SignalingServerError('invalid-options', `at most ${MAX_ICE_SERVERS} ICE servers`);
  }
  const set = <K extends keyof SignalingServerOptions>(
    key: K,
    value: SignalingServerOptions[K] | undefined,
  ) => {
    if (value !== undefined) opts[key] = value;
  };
  set('host', values.host ?? (env.PEERBENCH_HOST || undefined));
  set('port', integer('port', values.port ?? env.PEERBENCH_PORT));
  set(
    'maxConnectionsPerIp',
    integer(
      'max-connections-per-ip',
      values['max-connections-per-ip'] ?? env.PEERBENCH_MAX_CONNECTIONS_PER_IP,
    ),
  );
  set(
    'maxConnections',
    integer('max-connections', values['max-connections'] ?? env.PEERBENCH_MAX_CONNECTIONS),
  );
  set('maxRooms', integer('max-rooms', values['max-rooms'] ?? env.PEERBENCH_MAX_ROOMS));
  set(
    'maxPeersPerRoom',
    integer('max-peers-per-room', values['max-peers-per-room'] ?? env.PEERBENCH_MAX_PEERS_PER_ROOM),
  );
  set('publicRoom', values['public-room'] ?? (env.PEERBENCH_PUBLIC_ROOM || undefined));
  set('degree', integer('degree', values.degree ?? env.PEERBENCH_DEGREE));
  set(
    'presenceSampleSize',
    integer('presence-sample-size', values['presence-sample-size'] ?? env.PEERBENCH_PRESENCE_SAMPLE_SIZE),
  );
  set(
    'heartbeatIntervalMs',
    integer('heartbeat-interval-ms', values['heartbeat-interval-ms'] ?? env.PEERBENCH_HEARTBEAT_INTERVAL_MS),
  );
  set('trustProxy', values['trust-proxy'] ?? flag(env.PEERBENCH_TRUST_PROXY));
  const budgets = values['address-budgets'] ?? env.PEERBENCH_ADDRESS_BUDGETS;
  if (budgets) {
    try {
      opts.addressBudgets = parseBudgetSpec(budgets);
    } catch (e) {
      throw new SignalingServerError('invalid-options', e instanceof Error ? e.message : String(e));
    }
  }
  set(
    'upgradeTimeoutMs',
    integer('upgrade-timeout-ms', values['upgrade-timeout-ms'] ?? env.PEERBENCH_UPGRADE_TIMEOUT_MS),
  );
  set(
    'maxOpenSockets',
    integer('max-open-sockets', values['max-open-sockets'] ?? env.PEERBENCH_MAX_OPEN_SOCKETS),
  );
  const origins = urlList(values['allowed-origins'] ?? env.PEERBENCH_ALLOWED_ORIGINS);
  if (origins.length > 0) opts.allowedOrigins = origins;
  const staticDir = values.static ?? (env.PEERBENCH_STATIC_DIR || undefined);
  if (staticDir !== undefined) opts.staticDir = userPath(staticDir, env);
  else if (existsSync(`${DEFAULT_STATIC_DIR}/index.html`)) opts.staticDir = DEFAULT_STATIC_DIR;
  return { server: opts, ledger };
}

type CliValues = Record<string, string | boolean | undefined>;

/** The clustered-mode flags and env as given (checked in cluster-settings.ts). */
function clusterSettings(values: CliValues, env: Env): ClusterSettings | null {
  const str = (flagName: string, envName: string): string | undefined => {
    const v = values[flagName];
    return typeof v === 'string' ? v : env[envName] || undefined;
  };
  return checkClusterSettings(
    {
      natsUrls: urlList(str('nats', 'PEERBENCH_NATS_URL')),
      genesisFile: str('genesis', 'PEERBENCH_GENESIS_FILE'),
      replicas: integer('nats-replicas', str('nats-replicas', 'PEERBENCH_NATS_REPLICAS')),
      leaseTtlMs: integer('lease-ttl-ms', str('lease-ttl-ms', 'PEERBENCH_LEASE_TTL_MS')),
      instanceId: str('instance-id', 'PEERBENCH_INSTANCE_ID'),
    },
    (path) => userPath(path, env),
  );
}

/** True when the command line asks only for this instance's key (`--print-peer-id`). */
export function wantsPeerId(argv: readonly string[]): boolean {
  return flagsOf(argv).includes('--print-peer-id');
}

export type { ClusterSettings } from './cluster-settings.js';
export { MAX_NATS_REPLICAS, MIN_LEASE_TTL_MS } from './cluster-settings.js';

export interface BuildServerInput {
  argv?: readonly string[];
  env?: Env;
  /** Mounted as the server's ledger (the CLI wires the SQLite ledger here). */
  ledger?: LedgerHook;
  /** Clustered mode: rooms across instances (ledger-backend.ts opens it). */
  roomBridge?: RoomBridge;
  log?: (line: string) => void;
}

/** The one place the CLI's server is put together; extend here, not in the core. */
export function buildServerFromEnv(input: BuildServerInput = {}): SignalingServer {
  const options = optionsFromEnv(input.argv ?? process.argv.slice(2), input.env ?? process.env);
  if (input.ledger) options.ledger = input.ledger;
  if (input.roomBridge) options.roomBridge = input.roomBridge;
  if (input.log) options.log = input.log;
  return createSignalingServer(options);
}
