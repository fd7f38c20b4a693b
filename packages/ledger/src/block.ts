/**
 * Blocks: header (height, parent hash, timestamp, tx root, state root,
 * producer key) signed by the producer, plus the txs in order. The block hash
 * is sha256 of the canonical header bytes; the signature covers those bytes.
 */

import { fromHex, type Identity, invalidValueText, toHex, verifySignature } from '@peerbench/protocol';
import * as v from 'valibot';
import { ByteWriter, DOMAIN_BLOCK, sha256Hex } from './encoding.js';
import { LedgerError } from './errors.js';
import { type ParsedTx, parseTx, type TxJson } from './transaction.js';

/** Upper bound on txs in one block (the bench fills a block with 4,096). */
export const MAX_BLOCK_TXS = 8192;

export interface BlockHeader {
  height: number;
  parentHash: string;
  timestampMs: number;
  txRoot: string;
  stateRoot: string;
  /** Producer's peer id (hex public key). */
  producer: string;
}

export interface BlockJson extends BlockHeader {
  txs: TxJson[];
  /** Producer's signature over the canonical header bytes, hex. */
  signature: string;
}

export interface ParsedBlock {
  readonly json: BlockJson;
  readonly headerBytes: Uint8Array;
  readonly hash: string;
  readonly txs: ParsedTx[];
}

const Hex32 = v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex chars'));
export const BlockJsonSchema = v.strictObject({
  height: v.pipe(v.number(), v.safeInteger(), v.minValue(1)),
  parentHash: Hex32,
  timestampMs: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
  txRoot: Hex32,
  stateRoot: Hex32,
  producer: Hex32,
  txs: v.pipe(v.array(v.unknown()), v.maxLength(MAX_BLOCK_TXS)),
  signature: v.pipe(v.string(), v.regex(/^[0-9a-f]{128}$/, 'must be 128 lowercase hex chars')),
});

/**
 *   str(DOMAIN_BLOCK) u64 height parent[32] u64 timestampMs txRoot[32] stateRoot[32] producer[32] u32 txCount
 */
export function headerBytes(h: BlockHeader, txCount: number): Uint8Array {
  return new ByteWriter(200)
    .str(DOMAIN_BLOCK)
    .u64(h.height)
    .bytes(fromHex(h.parentHash))
    .u64(h.timestampMs)
    .bytes(fromHex(h.txRoot))
    .bytes(fromHex(h.stateRoot))
    .bytes(fromHex(h.producer))
    .u32(txCount)
    .finish();
}

/**
 *   txRoot = sha256( str("peerbench/ledger/txroot/v1") u32 count  hash_1[32] … hash_count[32] )
 * A flat hash of the tx hashes in block order: one sha256 over 32 bytes per
 * tx (a Merkle tree costs 2 hashes per tx and buys inclusion proofs, which
 * nothing here uses). Reordering, dropping or changing a tx changes it.
 */
export function txRoot(txHashes: readonly string[]): string {
  const w = new ByteWriter(40 + 32 * txHashes.length).str('peerbench/ledger/txroot/v1').u32(txHashes.length);
  for (const h of txHashes) w.bytes(fromHex(h));
  return sha256Hex(w.finish());
}

/** Structural parse; every tx must pass parseTx (else bad-tx). Does not check signatures or state. */
export function parseBlock(input: unknown): ParsedBlock {
  const r = v.safeParse(BlockJsonSchema, input);
  if (!r.success) {
    throw new LedgerError('malformed-block', invalidValueText('block', r.issues));
  }
  const b = r.output;
  const txs: ParsedTx[] = [];
  for (let k = 0; k < b.txs.length; k++) {
    try {
      txs.push(parseTx(b.txs[k]));
    } catch (e) {
      const err = e as LedgerError;
      throw new LedgerError('bad-tx', `tx ${k}: ${err.code ?? 'malformed'}: ${err.message}`);
    }
  }
  const json: BlockJson = {
    height: b.height,
    parentHash: b.parentHash,
    timestampMs: b.timestampMs,
    txRoot: b.txRoot,
    stateRoot: b.stateRoot,
    producer: b.producer,
    txs: txs.map((t) => t.json),
    signature: b.signature,
  };
  const bytes = headerBytes(json, txs.length);
  return { json, headerBytes: bytes, hash: sha256Hex(bytes), txs };
}

export async function signBlock(
  producer: Identity,
  header: Omit<BlockHeader, 'producer'>,
  txs: readonly ParsedTx[],
): Promise<ParsedBlock> {
  const full: BlockHeader = { ...header, producer: producer.peerId };
  const bytes = headerBytes(full, txs.length);
  const signature = toHex(await producer.sign(bytes));
  const json: BlockJson = { ...full, txs: txs.map((t) => t.json), signature };
  return { json, headerBytes: bytes, hash: sha256Hex(bytes), txs: [...txs] };
}

export function verifyBlockSignature(block: ParsedBlock): Promise<boolean> {
  return verifySignature(fromHex(block.json.producer), block.headerBytes, fromHex(block.json.signature));
}
