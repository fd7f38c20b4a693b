/**
 * Genesis: the parameters every node must agree on before block 1. Its hash is
 * the parent hash of block 1, so two chains with different parameters can
 * never be confused. Defaults are chosen so a fresh network of three browser
 * peers shows non-trivial, changing ranks within a minute (see README).
 */
import * as v from 'valibot';
import { ByteWriter, DOMAIN_GENESIS, sha256Hex } from './encoding.js';
import { LedgerError } from './errors.js';

export type TauSchedule =
  | { mode: 'fixed'; value: number }
  /** Fig 5: τ_{t+1} = clamp(τ_t + gain·(target − sparsity_t), min, max), sparsity = Σ diag(W) / Σ W. */
  | { mode: 'adaptive'; initial: number; target: number; gain: number; min: number; max: number };

export interface GenesisConfig {
  /** Free-form label, e.g. "peerbench-dev". */
  chainId: string;
  /** Peer id (hex public key) of the key that signs blocks (with `producers`: one of those allowed to). */
  producer: string;
  /**
   * Proof of authority for a clustered ledger: every key allowed to sign
   * blocks (it must contain `producer`). Absent ⇒ [producer], so a genesis
   * without it keeps its hash. See producersOf.
   */
  producers?: string[];
  timestampMs: number;
  /** ε of section 1.3: largest ‖ΔW_i‖₂ (rows as fractions) accepted per uid per block. */
  stepBoundL2: number;
  /** Stake credited to each new uid while the faucet lasts (the bootstrap tokens). */
  registrationStake: number;
  /** How many registrations (uids 0 … faucetRegistrations−1) receive registrationStake; later ones start at 0. */
  faucetRegistrations: number;
  /** Registry capacity. */
  maxUids: number;
  tau: TauSchedule;
  /**
   * A row of W counts (in R, in the sparsity/τ statistic and so in inflation)
   * only while its owner set it by a set-weights tx within this many blocks:
   * counted at block h iff 0 < lastSetHeight ≤ h ≤ lastSetHeight + cutoff
   * (Bittensor's activity cutoff). A uid that never set weights contributes
   * no row. Absent ⇒ DEFAULT_ACTIVITY_CUTOFF_BLOCKS (see activityCutoffOf).
   */
  activityCutoffBlocks?: number;
  /**
   * Sybil cost: a register tx must carry proof of work with at least this many
   * leading zero bits (registration-work.ts). Absent ⇒ 0 (no work).
   */
  registrationWorkBits?: number;
  /**
   * At most this many register txs per block; the producer keeps the rest in
   * its mempool for later blocks (nothing acknowledged is dropped). Absent ⇒
   * no cap.
   */
  maxRegistrationsPerBlock?: number;
  /**
   * Whether w_ii counts in R (eq 5 as the paper writes it) or is left out, as
   * Bittensor's production consensus masks the diagonal: R_j = (1/n) Σ_{i≠j}
   * s_i w_ij. Absent ⇒ true (the paper's form; genesis hashes of chains made
   * before this field existed are unchanged). Sparsity and τ are unaffected.
   */
  selfWeightsInRank?: boolean;
}

export const DEFAULT_STEP_BOUND_L2 = 0.25;
/** Upper bound of maxRegistrationsPerBlock (a block holds at most this many txs anyway). */
const MAX_BLOCK_REGISTRATIONS = 4096;
export const DEFAULT_REGISTRATION_STAKE = 1;
export const DEFAULT_FAUCET_REGISTRATIONS = 256;
export const DEFAULT_MAX_UIDS = 65_536;
export const DEFAULT_TAU = 0.1;
/** 50 blocks ≈ 100 s at the default 2 s interval: a peer that stops scoring drops out of R within two minutes. */
export const DEFAULT_ACTIVITY_CUTOFF_BLOCKS = 50;
/** What the signaling server's own chains use (its CLI flags can change them). */
export const SERVER_REGISTRATION_WORK_BITS = 16;
export const SERVER_MAX_REGISTRATIONS_PER_BLOCK = 8;
/** Largest accepted cutoff (u32, so it fits the canonical encodings). */
export const MAX_ACTIVITY_CUTOFF_BLOCKS = 0xffff_ffff;

/** Most keys a genesis may allow to produce (a cluster has a handful of instances). */
export const MAX_GENESIS_PRODUCERS = 64;

/** The keys allowed to sign blocks: genesis.producers, or [genesis.producer] when absent. */
export function producersOf(genesis: Pick<GenesisConfig, 'producer' | 'producers'>): readonly string[] {
  return genesis.producers ?? [genesis.producer];
}

/** The activity cutoff a genesis means (absent ⇒ the default, so the rule always applies). */
export function activityCutoffOf(genesis: Pick<GenesisConfig, 'activityCutoffBlocks'>): number {
  return genesis.activityCutoffBlocks ?? DEFAULT_ACTIVITY_CUTOFF_BLOCKS;
}

export function defaultGenesis(producer: string, overrides: Partial<GenesisConfig> = {}): GenesisConfig {
  return {
    chainId: 'peerbench-dev',
    producer,
    timestampMs: 0,
    stepBoundL2: DEFAULT_STEP_BOUND_L2,
    registrationStake: DEFAULT_REGISTRATION_STAKE,
    faucetRegistrations: DEFAULT_FAUCET_REGISTRATIONS,
    maxUids: DEFAULT_MAX_UIDS,
    tau: { mode: 'fixed', value: DEFAULT_TAU },
    activityCutoffBlocks: DEFAULT_ACTIVITY_CUTOFF_BLOCKS,
    ...overrides,
  };
}

const Finite = v.pipe(v.number(), v.finite());
const NonNeg = v.pipe(v.number(), v.finite(), v.minValue(0));
export const GenesisSchema = v.strictObject({
  chainId: v.pipe(v.string(), v.maxLength(64)),
  producer: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/)),
  producers: v.optional(
    v.pipe(
      v.array(v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/))),
      v.minLength(1),
      v.maxLength(MAX_GENESIS_PRODUCERS),
    ),
  ),
  timestampMs: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
  stepBoundL2: v.pipe(v.number(), v.finite(), v.gtValue(0)),
  registrationStake: NonNeg,
  faucetRegistrations: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
  maxUids: v.pipe(v.number(), v.safeInteger(), v.minValue(1), v.maxValue(0xffff_ffff)),
  tau: v.variant('mode', [
    v.strictObject({ mode: v.literal('fixed'), value: NonNeg }),
    v.strictObject({
      mode: v.literal('adaptive'),
      initial: NonNeg,
      target: Finite,
      gain: v.pipe(v.number(), v.finite(), v.gtValue(0)),
      min: NonNeg,
      max: NonNeg,
    }),
  ]),
  activityCutoffBlocks: v.optional(
    v.pipe(v.number(), v.safeInteger(), v.minValue(1), v.maxValue(MAX_ACTIVITY_CUTOFF_BLOCKS)),
  ),
  registrationWorkBits: v.optional(v.pipe(v.number(), v.safeInteger(), v.minValue(0), v.maxValue(32))),
  maxRegistrationsPerBlock: v.optional(
    v.pipe(v.number(), v.safeInteger(), v.minValue(1), v.maxValue(MAX_BLOCK_REGISTRATIONS)),
  ),
  selfWeightsInRank: v.optional(v.boolean()),
});

export function parseGenesis(value: unknown): GenesisConfig {
  const r = v.safeParse(GenesisSchema, value);
  if (!r.success) throw new LedgerError('malformed', `invalid genesis: ${r.issues[0]?.message ?? 'unknown'}`);
  const producers = r.output.producers;
  if (producers && (!producers.includes(r.output.producer) || new Set(producers).size !== producers.length))
    throw new LedgerError('malformed', 'invalid genesis: producers must be distinct and include producer');
  return r.output;
}

/** JSON with keys sorted at every level: the canonical text of a plain-data value. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj)
      .filter((k) => obj[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** sha256 over the canonical JSON (ECMAScript fixes Number→string exactly, so engines agree). */
export function genesisHash(genesis: GenesisConfig): string {
  return sha256Hex(new ByteWriter().str(DOMAIN_GENESIS).str(canonicalJson(genesis)).finish());
}
