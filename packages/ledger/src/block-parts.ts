/**
 * Blocks larger than one signaling message (64 KiB; a block of a few hundred
 * txs) are pushed to subscribers in parts: each part carries a slice of the
 * txs, the first one the signed header, and they are reassembled before the
 * light client verifies the block as usual. Nothing in a part is trusted:
 * a forged or mixed-up part only makes the assembled block fail verification.
 *
 *   { blockPart: { height, signature, index, count }, header?: {…} (index 0), txs: [...], height?: h (last part) }
 *
 * Only the last part carries a top-level `height`: a signaling client that
 * resumes "after the last block it saw" after a reconnect then counts a block
 * as seen only once all of it arrived, and re-requests a half-received one.
 * Parts of one block are grouped by the producer's signature (unique per
 * block); they may arrive interleaved with other blocks and more than once.
 */
import * as v from 'valibot';
import { type BlockHeader, type BlockJson, MAX_BLOCK_TXS } from './block.js';
import type { TxJson } from './transaction.js';

/** Bytes a part's JSON (without the message envelope) may take at most, by default 60 KiB (the envelope fits in the rest of 64 KiB). */
export const DEFAULT_MAX_BLOCK_PART_BYTES = 60 * 1024;
/** Incomplete blocks an assembler keeps; the oldest is dropped beyond that (a resubscribe resends it). */
export const MAX_BLOCKS_IN_ASSEMBLY = 8;

export interface BlockPartJson {
  blockPart: { height: number; signature: string; index: number; count: number };
  /** The signed header (all BlockJson fields but txs), on part 0 only. */
  header?: BlockHeader & { signature: string };
  txs: unknown[];
  /** On the last part only (see the file comment). */
  height?: number;
}

const BlockPartSchema = v.object({
  blockPart: v.strictObject({
    height: v.pipe(v.number(), v.safeInteger(), v.minValue(1)),
    signature: v.pipe(v.string(), v.regex(/^[0-9a-f]{128}$/)),
    index: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
    count: v.pipe(v.number(), v.safeInteger(), v.minValue(1), v.maxValue(MAX_BLOCK_TXS + 1)),
  }),
  header: v.optional(v.record(v.string(), v.unknown())),
  txs: v.pipe(v.array(v.unknown()), v.maxLength(MAX_BLOCK_TXS)),
  height: v.optional(v.number()),
});

export function isBlockPart(value: unknown): boolean {
  return typeof value === 'object' && value !== null && 'blockPart' in value;
}

function utf8Bytes(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c < 0xdc00) {
      n += 4; // surrogate pair: one 4-byte code point
      i++;
    } else n += 3;
  }
  return n;
}

/**
 * Splits a block (JSON form) into parts whose JSON is at most `maxPartBytes`
 * each. Returns undefined when that is impossible (one tx alone is too big;
 * cannot happen with txs ≤ MAX_TX_JSON_BYTES and the default budget).
 */
export function splitBlock(
  block: BlockJson,
  maxPartBytes = DEFAULT_MAX_BLOCK_PART_BYTES,
): BlockPartJson[] | undefined {
  const { txs, ...header } = block;
  const meta = (index: number, count: number) => ({
    height: block.height,
    signature: block.signature,
    index,
    count,
  });
  // Worst-case frame of a part: indices as large as the tx count, header and last-part height included.
  const frame = utf8Bytes(
    JSON.stringify({ blockPart: meta(txs.length, txs.length + 1), header, txs: [], height: block.height }),
  );
  const budget = maxPartBytes - frame;
  const slices: TxJson[][] = [[]];
  let used = 0;
  for (const tx of txs) {
    const size = utf8Bytes(JSON.stringify(tx)) + 1; // + the comma
    if (size > budget) return undefined;
    if (used + size > budget) {
      slices.push([]);
      used = 0;
    }
    slices[slices.length - 1]!.push(tx);
    used += size;
  }
  const count = slices.length;
  return slices.map((slice, index) => {
    const part: BlockPartJson = { blockPart: meta(index, count), txs: slice };
    if (index === 0) part.header = header;
    if (index === count - 1) part.height = block.height;
    return part;
  });
}

/** Collects parts until a block is complete; bounded memory, never throws on junk. */
export class BlockPartAssembler {
  private readonly pending = new Map<string, { parts: Array<BlockPartJson | undefined>; have: number }>();

  constructor(private readonly maxBlocks = MAX_BLOCKS_IN_ASSEMBLY) {}

  get blocksInAssembly(): number {
    return this.pending.size;
  }

  /** Adds a part; returns the reassembled block (unverified JSON) when this part completed it, else undefined. */
  add(input: unknown): unknown | undefined {
    const r = v.safeParse(BlockPartSchema, input);
    if (!r.success) return undefined;
    const part = r.output as BlockPartJson;
    const { index, count, signature, height } = part.blockPart;
    if (index >= count) return undefined;
    const key = `${height}:${signature}`;
    let entry = this.pending.get(key);
    if (entry && entry.parts.length !== count) return undefined; // inconsistent count: ignore the part
    if (!entry) {
      if (this.pending.size >= this.maxBlocks) {
        const oldest = this.pending.keys().next().value;
        if (oldest !== undefined) this.pending.delete(oldest);
      }
      entry = { parts: new Array<BlockPartJson | undefined>(count).fill(undefined), have: 0 };
      this.pending.set(key, entry);
    }
    if (entry.parts[index] !== undefined) return undefined; // duplicate
    entry.parts[index] = part;
    entry.have++;
    if (entry.have < count) return undefined;
    this.pending.delete(key);
    const header = entry.parts[0]?.header;
    if (!header) return undefined;
    const txs: unknown[] = [];
    for (const p of entry.parts) {
      for (const tx of p!.txs) txs.push(tx);
      if (txs.length > MAX_BLOCK_TXS) return undefined;
    }
    return { ...header, txs };
  }
}
