/**
 * Turns command-line flags and environment variables into server options.
 * Kept apart from cli.ts so the ledger (or anything else) can be added in one
 * place, `buildServerFromEnv`, and so the parsing is testable.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
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

export const CLI_USAGE = `usage: pnpm --filter @peerbench/signaling-server start [--] [flags]   (or: tsx src/cli.ts [flags])
flags: [--help] [--host HOST] [--port PORT] [--static DIR]
  [--max-connections-per-ip N] [--max-connections N] [--max-rooms N] [--max-peers-per-room N]
  [--heartbeat-interval-ms MS] [--trust-proxy]
  [--data-dir DIR | --memory-ledger] [--block-interval-ms MS]
env: PEERBENCH_HOST PEERBENCH_PORT PEERBENCH_STATIC_DIR PEERBENCH_DATA_DIR PEERBENCH_BLOCK_INTERVAL_MS
     PEERBENCH_STUN_URLS PEERBENCH_TURN_URLS PEERBENCH_TURN_USERNAME PEERBENCH_TURN_CREDENTIAL
     PEERBENCH_MAX_CONNECTIONS_PER_IP PEERBENCH_MAX_CONNECTIONS PEERBENCH_MAX_ROOMS
     PEERBENCH_MAX_PEERS_PER_ROOM PEERBENCH_HEARTBEAT_INTERVAL_MS PEERBENCH_TRUST_PROXY
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
      : userPath(values['data-dir'] ?? (env.PEERBENCH_DATA_DIR || DEFAULT_DATA_DIR), env),
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
  if (staticDir !== undefined) opts.staticDir = userPath(staticDir, env);
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
