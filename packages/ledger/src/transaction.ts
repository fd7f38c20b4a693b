/**
 * Transactions (section 1.3: W lives on the ledger and changes by signed,
 * bounded updates). Two kinds:
 *   register     public key → next uid (one uid per key, signed by that key
 *                so nobody can register someone else's key)
 *   set-weights  a new sparse row W_i for uid i, with a nonce
 *
 * Wire form (JSON, hex signature) is what crosses sockets and HTTP; the
 * canonical bytes below are what is signed and hashed. Every tx names the
 * genesis hash of the chain it is meant for, inside the signed bytes, so a tx
 * signed for one chain is refused by another (`wrong-chain`) even when the
 * same key holds the same uid there (replay protection). Stateless checks live
 * here (parseTx); checks against the chain (uid, nonce, ε) live in state.ts.
 */

import { fromHex, type Identity, invalidValueText, toHex, verifySignature } from '@peerbench/protocol';
import * as v from 'valibot';
import { ByteWriter, DOMAIN_TX, sha256Hex } from './encoding.js';
import { LedgerError } from './errors.js';
import { MAX_ROW_ENTRIES, rowFromPairs, type SparseRow, WEIGHT_SCALE } from './weights.js';

/** Largest JSON form of one tx we accept (a 64-entry row is ~1.5 KiB). */
export const MAX_TX_JSON_BYTES = 4096;
export const MAX_UID = 0xffff_ffff;

export type SparseRowJson = ReadonlyArray<readonly [number, number]>;

export interface RegisterTxJson {
  type: 'register';
  /** Genesis hash (hex) of the chain this tx is for; signed. */
  genesisHash: string;
  /** Hex Ed25519 public key = the peer id. */
  publicKey: string;
  /**
   * Registration proof of work (registration-work.ts), signed with the rest.
   * Absent means no work (only a genesis with registrationWorkBits 0 accepts it).
   */
  work?: number;
  /** Hex signature by that key over the canonical bytes. */
  signature: string;
}

export interface SetWeightsTxJson {
  type: 'set-weights';
  /** Genesis hash (hex) of the chain this tx is for; signed. */
  genesisHash: string;
  uid: number;
  /** Strictly greater than the uid's last accepted nonce (gaps allowed). */
  nonce: number;
  /** (uid, weight) pairs, uids strictly increasing, weights integers in units of 1/WEIGHT_SCALE summing to WEIGHT_SCALE. */
  weights: Array<[number, number]>;
  signature: string;
}

export type TxJson = RegisterTxJson | SetWeightsTxJson;

interface ParsedBase {
  readonly json: TxJson;
  /** Canonical bytes (what the signature covers). */
  readonly message: Uint8Array;
  readonly signature: Uint8Array;
  /** sha256(message ‖ signature), hex. */
  readonly hash: string;
  /** The chain the tx was signed for (state checks refuse others with wrong-chain). */
  readonly genesisHash: string;
}
export interface ParsedRegisterTx extends ParsedBase {
  readonly kind: 'register';
  readonly peerId: string;
  readonly publicKey: Uint8Array;
  /** The proof-of-work nonce (0 when the tx carries none). */
  readonly work: number;
}
export interface ParsedSetWeightsTx extends ParsedBase {
  readonly kind: 'set-weights';
  readonly uid: number;
  readonly nonce: number;
  readonly row: SparseRow;
}
export type ParsedTx = ParsedRegisterTx | ParsedSetWeightsTx;

const HexSignature = v.pipe(
  v.string(),
  v.regex(/^[0-9a-f]{128}$/, 'signature must be 128 lowercase hex chars'),
);
const HexGenesisHash = v.pipe(
  v.string(),
  v.regex(/^[0-9a-f]{64}$/, 'genesisHash must be 64 lowercase hex chars'),
);
const Uid = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(MAX_UID));

const RegisterSchema = v.strictObject({
  type: v.literal('register'),
  genesisHash: HexGenesisHash,
  publicKey: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/, 'publicKey must be 64 lowercase hex chars')),
  work: v.optional(v.pipe(v.number(), v.safeInteger(), v.minValue(0))),
  signature: HexSignature,
});
// Entries are typed loosely here so bad weights get their own code (bad-weight), not 'malformed'.
const SetWeightsSchema = v.strictObject({
  type: v.literal('set-weights'),
  genesisHash: HexGenesisHash,
  uid: Uid,
  nonce: v.pipe(v.number(), v.safeInteger(), v.minValue(1)),
  weights: v.array(v.tuple([v.unknown(), v.unknown()])),
  signature: HexSignature,
});
export const TxJsonSchema = v.variant('type', [RegisterSchema, SetWeightsSchema]);

const TYPE_REGISTER = 1;
const TYPE_SET_WEIGHTS = 2;

/**
 * Canonical unsigned bytes:
 *   str(DOMAIN_TX) genesisHash[32] u8(type)
 *   register:     publicKey[32] [u64 work — only when the tx carries `work`]
 *   set-weights:  u32 uid, u64 nonce, u16 count, count × (u32 uid, u32 weight)
 * (str = u32 length + UTF-8; all integers big-endian.) The genesis hash is
 * the chain id: the same key and uid on another chain sign other bytes.
 */
export function registerMessage(publicKey: Uint8Array, genesisHash: string, work?: number): Uint8Array {
  const w = new ByteWriter(104)
    .str(DOMAIN_TX)
    .bytes(chainBytes(genesisHash))
    .u8(TYPE_REGISTER)
    .bytes(publicKey);
  // The two forms have different fixed lengths, so neither can be read as the other.
  if (work !== undefined) w.u64(work);
  return w.finish();
}

export function setWeightsMessage(
  uid: number,
  nonce: number,
  weights: SparseRowJson,
  genesisHash: string,
): Uint8Array {
  const w = new ByteWriter(80 + 8 * weights.length)
    .str(DOMAIN_TX)
    .bytes(chainBytes(genesisHash))
    .u8(TYPE_SET_WEIGHTS)
    .u32(uid)
    .u64(nonce);
  w.u16(weights.length);
  for (const [u, x] of weights) w.u32(u).u32(x);
  return w.finish();
}

function chainBytes(genesisHash: string): Uint8Array {
  if (!/^[0-9a-f]{64}$/.test(genesisHash))
    throw new LedgerError(
      'malformed',
      "genesisHash must be 64 lowercase hex chars (the chain's genesis hash)",
    );
  return fromHex(genesisHash);
}

function txHash(message: Uint8Array, signature: Uint8Array): string {
  const buf = new Uint8Array(message.length + signature.length);
  buf.set(message, 0);
  buf.set(signature, message.length);
  return sha256Hex(buf);
}

function fail(code: ConstructorParameters<typeof LedgerError>[0], message: string): never {
  throw new LedgerError(code, message);
}

/** Bytes of the JSON form, or -1 if it cannot be serialised. */
function jsonBytes(value: unknown): number {
  try {
    const s = JSON.stringify(value);
    return s === undefined ? -1 : s.length;
  } catch {
    return -1;
  }
}

/**
 * Stateless validation of a tx in wire form (object, or a JSON string). Throws
 * LedgerError with code too-large, too-many-entries, malformed, bad-weight or
 * not-on-simplex. Does not check the signature (async, see verifyTxSignature)
 * nor anything that needs the chain state.
 */
export function parseTx(input: unknown): ParsedTx {
  let value = input;
  if (typeof input === 'string') {
    if (input.length > MAX_TX_JSON_BYTES)
      fail('too-large', `tx is ${input.length} bytes, max ${MAX_TX_JSON_BYTES}`);
    try {
      value = JSON.parse(input);
    } catch {
      fail('malformed', 'tx is not valid JSON');
    }
  } else {
    const size = jsonBytes(input);
    if (size < 0) fail('malformed', 'tx is not JSON-serialisable');
    if (size > MAX_TX_JSON_BYTES) fail('too-large', `tx is ${size} bytes as JSON, max ${MAX_TX_JSON_BYTES}`);
  }
  if (typeof value === 'object' && value !== null && 'weights' in value) {
    const weights = (value as { weights: unknown }).weights;
    if (Array.isArray(weights) && weights.length > MAX_ROW_ENTRIES)
      fail('too-many-entries', `row has ${weights.length} entries, max ${MAX_ROW_ENTRIES}`);
  }
  const parsed = v.safeParse(TxJsonSchema, value);
  if (!parsed.success) {
    fail('malformed', invalidValueText('tx', parsed.issues));
  }
  const tx = parsed.output;
  const signature = fromHex(tx.signature);
  if (tx.type === 'register') {
    const publicKey = fromHex(tx.publicKey);
    const message = registerMessage(publicKey, tx.genesisHash, tx.work);
    const json: RegisterTxJson = {
      type: 'register',
      genesisHash: tx.genesisHash,
      publicKey: tx.publicKey,
      ...(tx.work !== undefined ? { work: tx.work } : {}),
      signature: tx.signature,
    };
    return {
      kind: 'register',
      json,
      message,
      signature,
      hash: txHash(message, signature),
      genesisHash: tx.genesisHash,
      peerId: tx.publicKey,
      publicKey,
      work: tx.work ?? 0,
    };
  }
  const pairs: Array<[number, number]> = [];
  let sum = 0;
  let prev = -1;
  for (let k = 0; k < tx.weights.length; k++) {
    const [u, w] = tx.weights[k]!;
    if (typeof u !== 'number' || !Number.isInteger(u) || u < 0 || u > MAX_UID)
      fail('malformed', `weights[${k}]: uid must be an integer in [0, ${MAX_UID}]`);
    if (typeof w !== 'number' || !Number.isFinite(w) || !Number.isInteger(w) || w < 0 || w > WEIGHT_SCALE)
      fail(
        'bad-weight',
        `weights[${k}]: weight ${String(w)} is not an integer in [0, ${WEIGHT_SCALE}] (fixed-point, 1 = ${WEIGHT_SCALE})`,
      );
    if (u <= prev) fail('malformed', `weights[${k}]: uids must be strictly increasing (no duplicates)`);
    prev = u;
    sum += w;
    pairs.push([u, w]);
  }
  if (sum !== WEIGHT_SCALE)
    fail('not-on-simplex', `row sums to ${sum}, must be exactly ${WEIGHT_SCALE} (= 1 in fixed point)`);
  const message = setWeightsMessage(tx.uid, tx.nonce, pairs, tx.genesisHash);
  const json: SetWeightsTxJson = {
    type: 'set-weights',
    genesisHash: tx.genesisHash,
    uid: tx.uid,
    nonce: tx.nonce,
    weights: pairs,
    signature: tx.signature,
  };
  return {
    kind: 'set-weights',
    json,
    message,
    signature,
    hash: txHash(message, signature),
    genesisHash: tx.genesisHash,
    uid: tx.uid,
    nonce: tx.nonce,
    row: rowFromPairs(pairs),
  };
}

/** True when `signer` signed the tx's canonical bytes. Register txs are checked against their own key. */
export function verifyTxSignature(tx: ParsedTx, signer?: Uint8Array): Promise<boolean> {
  const key = tx.kind === 'register' ? tx.publicKey : signer;
  if (!key) return Promise.resolve(false);
  return verifySignature(key, tx.message, tx.signature);
}

/**
 * Signs a register tx for the chain whose genesis hash is `genesisHash`
 * (`chain.state().genesisHash`, or `genesisHash(genesis)`). `work` is the
 * proof-of-work nonce from solveRegistrationWork, when the chain asks for one.
 */
export async function createRegisterTx(
  identity: Identity,
  genesisHash: string,
  work?: number,
): Promise<RegisterTxJson> {
  const signature = await identity.sign(registerMessage(identity.publicKey, genesisHash, work));
  return {
    type: 'register',
    genesisHash,
    publicKey: identity.peerId,
    ...(work !== undefined ? { work } : {}),
    signature: toHex(signature),
  };
}

/**
 * Signs a set-weights tx for the chain whose genesis hash is `genesisHash`.
 * `weights` must already be a valid fixed-point row (see quantizeRow /
 * boundedRowToward in weights.ts).
 */
export async function createSetWeightsTx(
  identity: Identity,
  uid: number,
  nonce: number,
  weights: SparseRowJson,
  genesisHash: string,
): Promise<SetWeightsTxJson> {
  const pairs = weights.map(([u, w]) => [u, w] as [number, number]);
  const signature = await identity.sign(setWeightsMessage(uid, nonce, pairs, genesisHash));
  return { type: 'set-weights', genesisHash, uid, nonce, weights: pairs, signature: toHex(signature) };
}
