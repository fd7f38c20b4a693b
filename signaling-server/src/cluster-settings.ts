/**
 * Clustered mode's settings (`--nats` and the flags that go with it, see
 * env.ts and the README's "Several instances on NATS"), validated: a bad
 * value stops the start with invalid-options before anything connects.
 */
import { SignalingServerError } from './options.js';

/** A clustered instance: its ledger follows (and may produce) one chain shared through NATS JetStream. */
export interface ClusterSettings {
  /** Client URLs of the NATS cluster (all of them, so the client fails over). */
  natsUrls: string[];
  /** The shared genesis (JSON GenesisConfig, the same file on every instance; `producers` lists their keys). */
  genesisFile: string;
  /** JetStream replicas of the streams; default 3 when 3+ URLs are given, else 1. */
  replicas: number;
  leaseTtlMs: number | undefined;
  instanceId: string | undefined;
}

/** Lowest accepted --lease-ttl-ms: a renewal every TTL/4 must fit between two blocks' JetStream round trips. */
export const MIN_LEASE_TTL_MS = 500;
/** The most JetStream replicas a stream can have. */
export const MAX_NATS_REPLICAS = 5;
const NATS_URL_PATTERN = /^((nats|tls|ws|wss):\/\/)?[^\s,/]+(:\d{1,5})?\/?$/;

/** The clustered-mode flags as given (strings already split and parsed as integers). */
export interface RawClusterSettings {
  natsUrls: string[];
  genesisFile: string | undefined;
  replicas: number | undefined;
  leaseTtlMs: number | undefined;
  instanceId: string | undefined;
}

/** The settings, or null without NATS URLs (then none of the other clustered flags may be set). */
export function checkClusterSettings(
  raw: RawClusterSettings,
  resolvePath: (path: string) => string,
): ClusterSettings | null {
  const { natsUrls, genesisFile, replicas, leaseTtlMs, instanceId } = raw;
  if (natsUrls.length === 0) {
    const stray = [
      ['genesis', genesisFile],
      ['nats-replicas', replicas],
      ['lease-ttl-ms', leaseTtlMs],
      ['instance-id', instanceId],
    ].find(([, v]) => v !== undefined);
    if (stray)
      throw new SignalingServerError(
        'invalid-options',
        `--${stray[0]} is for clustered mode: give --nats too`,
      );
    return null;
  }
  for (const url of natsUrls)
    if (!NATS_URL_PATTERN.test(url))
      throw new SignalingServerError(
        'invalid-options',
        `nats: ${url.slice(0, 80)} is not a NATS URL (nats://host:port)`,
      );
  if (genesisFile === undefined)
    throw new SignalingServerError(
      'invalid-options',
      '--nats needs --genesis FILE (the same genesis on every instance; see `pnpm cluster-genesis`)',
    );
  if (replicas !== undefined && (replicas < 1 || replicas > MAX_NATS_REPLICAS))
    throw new SignalingServerError('invalid-options', `nats-replicas must be 1-${MAX_NATS_REPLICAS}`);
  if (leaseTtlMs !== undefined && leaseTtlMs < MIN_LEASE_TTL_MS)
    throw new SignalingServerError('invalid-options', `lease-ttl-ms must be at least ${MIN_LEASE_TTL_MS}`);
  if (instanceId !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(instanceId))
    throw new SignalingServerError('invalid-options', 'instance-id: 1-64 letters, digits, - or _');
  return {
    natsUrls,
    genesisFile: resolvePath(genesisFile),
    replicas: replicas ?? (natsUrls.length >= 3 ? 3 : 1),
    leaseTtlMs,
    instanceId,
  };
}
