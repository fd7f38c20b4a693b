/**
 * Canonical byte encoding helpers. Everything that is signed or hashed goes
 * through ByteWriter so the layout is explicit and big-endian everywhere, and
 * identical in Node and browsers (DataView is specified byte for byte).
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { toHex } from '@peerbench/protocol';

export class ByteWriter {
  private buf: Uint8Array;
  private view: DataView;
  private len = 0;

  constructor(initialBytes = 256) {
    this.buf = new Uint8Array(initialBytes);
    this.view = new DataView(this.buf.buffer);
  }

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  /** Writes a fixed-width value of `bytes` bytes at the end (`write` gets its offset). */
  private fixed(bytes: number, write: (at: number) => void): this {
    this.reserve(bytes);
    write(this.len);
    this.len += bytes;
    return this;
  }

  u8(v: number): this {
    return this.fixed(1, (at) => this.view.setUint8(at, v));
  }

  u16(v: number): this {
    return this.fixed(2, (at) => this.view.setUint16(at, v));
  }

  u32(v: number): this {
    return this.fixed(4, (at) => this.view.setUint32(at, v));
  }

  /** A non-negative safe integer as 8 bytes (high word, low word). */
  u64(v: number): this {
    if (!Number.isSafeInteger(v) || v < 0)
      throw new RangeError(`u64 needs a non-negative safe integer, got ${v}`);
    this.u32(Math.floor(v / 0x1_0000_0000));
    return this.u32(v % 0x1_0000_0000);
  }

  /** IEEE-754 binary64, big-endian: the exact bits of the number. */
  f64(v: number): this {
    return this.fixed(8, (at) => this.view.setFloat64(at, v));
  }

  bytes(b: Uint8Array): this {
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }

  /** UTF-8 with a u32 length prefix, so concatenations stay unambiguous. */
  str(s: string): this {
    const b = new TextEncoder().encode(s);
    this.u32(b.length);
    return this.bytes(b);
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

export function sha256Hex(bytes: Uint8Array): string {
  return toHex(sha256(bytes));
}

export { sha256 };

/** Domain separation so a signature over one kind of object never verifies as another. */
// v2: the chain's genesis hash follows the domain (replay protection across chains).
export const DOMAIN_TX = 'peerbench/ledger/tx/v2';
export const DOMAIN_BLOCK = 'peerbench/ledger/block/v1';
// v2: per-uid lastSetHeight (activity cutoff).
export const DOMAIN_STATE = 'peerbench/ledger/state/v2';
export const DOMAIN_GENESIS = 'peerbench/ledger/genesis/v1';
/** Registration proof of work (registration-work.ts): never signed, only hashed. */
export const DOMAIN_WORK = 'peerbench/ledger/registration-work/v1';

/** Reads what ByteWriter wrote; throws RangeError past the end. */
export class ByteReader {
  private readonly view: DataView;
  private pos = 0;

  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get done(): boolean {
    return this.pos === this.buf.length;
  }

  private need(n: number): number {
    if (this.pos + n > this.buf.length) throw new RangeError('read past end of buffer');
    const at = this.pos;
    this.pos += n;
    return at;
  }

  u8(): number {
    return this.view.getUint8(this.need(1));
  }
  u16(): number {
    return this.view.getUint16(this.need(2));
  }
  u32(): number {
    return this.view.getUint32(this.need(4));
  }
  u64(): number {
    const hi = this.u32();
    const lo = this.u32();
    return hi * 0x1_0000_0000 + lo;
  }
  f64(): number {
    return this.view.getFloat64(this.need(8));
  }
  bytes(n: number): Uint8Array {
    const at = this.need(n);
    return this.buf.slice(at, at + n);
  }
  str(): string {
    return new TextDecoder().decode(this.bytes(this.u32()));
  }
}
