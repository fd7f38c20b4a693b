/**
 * Debian's coturn (`turnserver`) inside a lab namespace, with the TURN REST
 * shared secret (`--use-auth-secret`), the way an operator runs it beside the
 * signaling server.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NetlabError } from './errors.js';
import { succeeds } from './exec.js';
import type { Namespace } from './lab.js';
import type { LabProcess } from './process.js';

export const DEFAULT_TURN_PORT = 3478;
/** coturn listens about 200 ms after start here; this bounds the wait. */
export const COTURN_START_TIMEOUT_MS = 10_000;
/** coturn takes about 1.9 s to exit on SIGTERM; after this it is killed. */
export const COTURN_STOP_GRACE_MS = 5_000;
const LISTEN_POLL_MS = 50;

/**
 * Peers coturn must never relay to: the private ranges. Without them, with
 * ICE policy `all`, coturn tried to reach the homes' private host candidates
 * and closed the allocations within about a second (issue 18's facts).
 */
export const PRIVATE_PEER_RANGES = [
  '10.0.0.0-10.255.255.255',
  '172.16.0.0-172.31.255.255',
  '192.168.0.0-192.168.255.255',
] as const;

export interface CoturnOptions {
  /** Address to listen on and relay from (inside ns). */
  ip: string;
  port?: number;
  /** The TURN REST shared secret (same as the signaling server's). */
  secret: string;
  realm?: string;
  /** Relay port range; default 49152–49352. */
  minPort?: number;
  maxPort?: number;
  deniedPeerRanges?: readonly string[];
}

export interface Coturn {
  readonly process: LabProcess;
  /** `turn:ip:port?transport=udp` */
  readonly turnUrl: string;
  /** `stun:ip:port` (coturn answers STUN binding requests too). */
  readonly stunUrl: string;
  /** SIGTERM, then SIGKILL after COTURN_STOP_GRACE_MS; removes its temp dir. */
  stop(): Promise<void>;
}

export function coturnUnavailableReason(): string | null {
  if (!succeeds(['sh', '-c', 'command -v turnserver'])) {
    return '`turnserver` is missing: apt-get install coturn (scripts/setup.sh does)';
  }
  return null;
}

async function listening(ns: Namespace, port: number): Promise<boolean> {
  const { stdout } = await ns.exec(['ss', '-Hlun', `sport = :${port}`]);
  return stdout.trim().length > 0;
}

/** Starts turnserver in ns and resolves once its UDP port is bound. */
export async function startCoturn(ns: Namespace, opts: CoturnOptions): Promise<Coturn> {
  const missing = coturnUnavailableReason();
  if (missing) throw new NetlabError('unavailable', missing);
  const port = opts.port ?? DEFAULT_TURN_PORT;
  if (!/^[\x21-\x7e]{8,256}$/.test(opts.secret)) {
    throw new NetlabError('invalid-argument', 'the TURN secret must be 8-256 printable ASCII characters');
  }
  const dir = mkdtempSync(join(tmpdir(), 'netlab-coturn-'));
  const argv = [
    'turnserver',
    '-n', // no config file
    `--listening-ip=${opts.ip}`,
    `--relay-ip=${opts.ip}`,
    `--listening-port=${port}`,
    `--realm=${opts.realm ?? 'peerbench.test'}`,
    '--use-auth-secret',
    `--static-auth-secret=${opts.secret}`,
    '--no-tls',
    '--no-dtls',
    '--no-cli',
    '--fingerprint',
    `--min-port=${opts.minPort ?? 49152}`,
    `--max-port=${opts.maxPort ?? 49352}`,
    ...(opts.deniedPeerRanges ?? PRIVATE_PEER_RANGES).map((r) => `--denied-peer-ip=${r}`),
    `--pidfile=${join(dir, 'turnserver.pid')}`,
    `--db=${join(dir, 'turndb')}`,
    '--log-file=stdout',
    '--simple-log',
  ];
  const proc = ns.spawn(argv);
  const cleanupDir = () => rmSync(dir, { recursive: true, force: true });
  const stop = async () => {
    await proc.stop(COTURN_STOP_GRACE_MS);
    cleanupDir();
  };
  const deadline = Date.now() + COTURN_START_TIMEOUT_MS;
  while (!(await listening(ns, port))) {
    if (!proc.running) {
      cleanupDir();
      throw new NetlabError('command-failed', `turnserver exited at start: ${proc.tail()}`);
    }
    if (Date.now() > deadline) {
      await stop();
      throw new NetlabError('timeout', `turnserver not listening after ${COTURN_START_TIMEOUT_MS} ms`);
    }
    await new Promise((r) => setTimeout(r, LISTEN_POLL_MS));
  }
  return {
    process: proc,
    turnUrl: `turn:${opts.ip}:${port}?transport=udp`,
    stunUrl: `stun:${opts.ip}:${port}`,
    stop,
  };
}
