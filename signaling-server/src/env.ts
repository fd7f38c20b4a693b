/**
 * Turns command-line flags and environment variables into server options.
 * Kept apart from cli.ts so the ledger (or anything else) can be added in one
 * place, `buildServerFromEnv`, and so the parsing is testable.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { LedgerHook } from '@peerbench/ledger';
import type { IceServer } from '@peerbench/protocol';
import { SignalingServerError, type SignalingServerOptions } from './options.js';
import { createSignalingServer, type SignalingServer } from './server.js';

/** The web app's build output in this repository, served when it exists and no --static is given. */
export const DEFAULT_STATIC_DIR = fileURLToPath(new URL('../../apps/web/dist', import.meta.url));

/** Where the CLI keeps the ledger (ledger.db, producer.key) unless told otherwise; gitignored. */
export const DEFAULT_DATA_DIR = fileURLToPath(new URL('../../.data/ledger', import.meta.url));

export const CLI_USAGE = `usage: tsx src/cli.ts [--host HOST] [--port PORT] [--static DIR]
  [--max-connections-per-ip N] [--max-connections N] [--max-rooms N] [--max-peers-per-room N]
  [--heartbeat-interval-ms MS] [--trust-proxy]
  [--data-dir DIR | --memory-ledger] [--block-interval-ms MS]
env: PEERBENCH_HOST PEERBENCH_PORT PEERBENCH_STATIC_DIR PEERBENCH_DATA_DIR PEERBENCH_BLOCK_INTERVAL_MS
     PEERBENCH_STUN_URLS PEERBENCH_TURN_URLS PEERBENCH_TURN_USERNAME PEERBENCH_TURN_CREDENTIAL
     PEERBENCH_MAX_CONNECTIONS_PER_IP PEERBENCH_MAX_CONNECTIONS PEERBENCH_MAX_ROOMS
     PEERBENCH_MAX_PEERS_PER_ROOM PEERBENCH_HEARTBEAT_INTERVAL_MS PEERBENCH_TRUST_PROXY
flags win over env.`;

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
}

/** Server options from flags and env (flags win). Throws on unknown flags or bad numbers. */
export function optionsFromEnv(argv: readonly string[], env: Env): SignalingServerOptions {
  return parseCli(argv, env).server;
}

/** Ledger settings from flags and env (flags win); the default is SQLite in DEFAULT_DATA_DIR. */
export function ledgerSettingsFromEnv(argv: readonly string[], env: Env): LedgerSettings {
  return parseCli(argv, env).ledger;
}

function parseCli(
  argv: readonly string[],
  env: Env,
): { server: SignalingServerOptions; ledger: LedgerSettings } {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      static: { type: 'string' },
      'max-connections-per-ip': { type: 'string' },
      'max-connections': { type: 'string' },
      'max-rooms': { type: 'string' },
      'max-peers-per-room': { type: 'string' },
      'heartbeat-interval-ms': { type: 'string' },
      'trust-proxy': { type: 'boolean' },
      'data-dir': { type: 'string' },
      'memory-ledger': { type: 'boolean' },
      'block-interval-ms': { type: 'string' },
    },
  });
  const ledger: LedgerSettings = {
    dataDir: values['memory-ledger']
      ? null
      : (values['data-dir'] ?? (env.PEERBENCH_DATA_DIR || DEFAULT_DATA_DIR)),
    blockIntervalMs: integer(
      'block-interval-ms',
      values['block-interval-ms'] ?? env.PEERBENCH_BLOCK_INTERVAL_MS,
    ),
  };
  if (ledger.blockIntervalMs !== undefined && ledger.blockIntervalMs < 100) {
    throw new SignalingServerError('invalid-options', 'block-interval-ms must be at least 100');
  }
  const opts: SignalingServerOptions = { iceServers: iceServersFromEnv(env) };
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
  set(
    'heartbeatIntervalMs',
    integer('heartbeat-interval-ms', values['heartbeat-interval-ms'] ?? env.PEERBENCH_HEARTBEAT_INTERVAL_MS),
  );
  set('trustProxy', values['trust-proxy'] ?? flag(env.PEERBENCH_TRUST_PROXY));
  const staticDir = values.static ?? (env.PEERBENCH_STATIC_DIR || undefined);
  if (staticDir !== undefined) opts.staticDir = staticDir;
  else if (existsSync(`${DEFAULT_STATIC_DIR}/index.html`)) opts.staticDir = DEFAULT_STATIC_DIR;
  return { server: opts, ledger };
}

export interface BuildServerInput {
  argv?: readonly string[];
  env?: Env;
  /** Mounted as the server's ledger (the CLI wires the SQLite ledger here). */
  ledger?: LedgerHook;
  log?: (line: string) => void;
}

/** The one place the CLI's server is put together; extend here, not in the core. */
export function buildServerFromEnv(input: BuildServerInput = {}): SignalingServer {
  const options = optionsFromEnv(input.argv ?? process.argv.slice(2), input.env ?? process.env);
  if (input.ledger) options.ledger = input.ledger;
  if (input.log) options.log = input.log;
  return createSignalingServer(options);
}
