/**
 * Proof of work for registration: the sybil cost of a uid. A register tx
 * carries a `work` nonce such that
 *
 *   sha256( str(DOMAIN_WORK) ‖ genesisHash[32] ‖ publicKey[32] ‖ u64 work )
 *
 * starts with at least `genesis.registrationWorkBits` zero bits (big-endian
 * bit order: the first byte's high bit first). The work is bound to the key
 * and the chain, so it cannot be reused for another key or replayed on
 * another chain. It is what Bittensor's PoW registration does, sized for a
 * browser: 2^bits hashes on average (16 bits ≈ 65k hashes, well under a
 * second in a tab), so one honest registration costs little while thousands
 * cost an attacker real CPU; the per-block registration cap bounds the rate
 * whatever CPU the attacker has.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { fromHex } from '@peerbench/protocol';
import { ByteWriter, DOMAIN_WORK } from './encoding.js';

/** Largest difficulty a genesis may ask for (2^32 hashes is already hours in a tab). */
export const MAX_REGISTRATION_WORK_BITS = 32;
/** How many hashes the solver tries between yields to the event loop. */
const SOLVE_BATCH_HASHES = 4096;

function workPreimage(genesisHash: string, publicKey: Uint8Array): { bytes: Uint8Array; nonceAt: number } {
  const bytes = new ByteWriter(96)
    .str(DOMAIN_WORK)
    .bytes(fromHex(genesisHash))
    .bytes(publicKey)
    .u64(0)
    .finish();
  return { bytes, nonceAt: bytes.length - 8 };
}

/** Leading zero bits of a digest. */
export function leadingZeroBits(digest: Uint8Array): number {
  let bits = 0;
  for (const byte of digest) {
    if (byte === 0) {
      bits += 8;
      continue;
    }
    return bits + Math.clz32(byte) - 24;
  }
  return bits;
}

function writeNonce(view: DataView, at: number, work: number): void {
  // u64 big-endian from a safe integer (the ByteWriter's encoding).
  view.setUint32(at, Math.floor(work / 2 ** 32));
  view.setUint32(at + 4, work >>> 0);
}

/** The zero bits `work` achieves for this key on this chain. */
export function registrationWorkBits(genesisHash: string, publicKey: Uint8Array, work: number): number {
  const { bytes, nonceAt } = workPreimage(genesisHash, publicKey);
  writeNonce(new DataView(bytes.buffer, bytes.byteOffset, bytes.length), nonceAt, work);
  return leadingZeroBits(sha256(bytes));
}

/**
 * Finds the smallest `work` with at least `bits` zero bits, yielding to the
 * event loop every few thousand hashes so a page or worker stays responsive.
 * Aborts with the signal's reason.
 */
export async function solveRegistrationWork(
  genesisHash: string,
  publicKey: Uint8Array,
  bits: number,
  signal?: AbortSignal,
): Promise<number> {
  if (!(Number.isInteger(bits) && bits >= 0 && bits <= MAX_REGISTRATION_WORK_BITS))
    throw new RangeError(`work bits must be an integer in [0, ${MAX_REGISTRATION_WORK_BITS}], got ${bits}`);
  const { bytes, nonceAt } = workPreimage(genesisHash, publicKey);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  for (let work = 0; work <= Number.MAX_SAFE_INTEGER; work++) {
    writeNonce(view, nonceAt, work);
    if (leadingZeroBits(sha256(bytes)) >= bits) return work;
    if (work % SOLVE_BATCH_HASHES === SOLVE_BATCH_HASHES - 1) {
      signal?.throwIfAborted();
      await new Promise<void>((resolve) => setTimeout(resolve, 0));
    }
  }
  throw new RangeError('no work nonce found');
}
