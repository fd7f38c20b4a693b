/**
 * Ed25519 identities of peers. A peer's id is the lowercase hex of its 32-byte
 * public key, so anyone can check a signature against an id with no lookup.
 *
 * WebCrypto's Ed25519 (Node ≥ 20, current Chromium/Firefox/Safari) is used when
 * present: it verifies about 10× faster than pure JS here. Where it is missing
 * the same keys work through @noble/ed25519, so signatures are identical either
 * way (Ed25519 signing is deterministic).
 */
import * as noble from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';

noble.hashes.sha512 = sha512;

export const PUBLIC_KEY_BYTES = 32;
export const SECRET_KEY_BYTES = 32;
export const SIGNATURE_BYTES = 64;

export interface Identity {
  /** Lowercase hex of the public key (64 characters). */
  readonly peerId: string;
  readonly publicKey: Uint8Array;
  /** The 32-byte Ed25519 seed. Keep it private; persist it to keep the identity. */
  readonly secretKey: Uint8Array;
  sign(message: Uint8Array): Promise<Uint8Array>;
}

// PKCS#8 wrapper of a raw Ed25519 seed (RFC 8410).
const PKCS8_ED25519_PREFIX = new Uint8Array([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);

type Subtle = SubtleCrypto;
let subtlePromise: Promise<Subtle | null> | undefined;

/** WebCrypto with Ed25519 support, or null where the platform lacks it. */
function ed25519Subtle(): Promise<Subtle | null> {
  subtlePromise ??= (async () => {
    const subtle = globalThis.crypto?.subtle;
    if (!subtle) return null;
    try {
      const seed = new Uint8Array(SECRET_KEY_BYTES);
      const key = await subtle.importKey('pkcs8', pkcs8(seed), { name: 'Ed25519' }, false, ['sign']);
      await subtle.sign('Ed25519', key, new Uint8Array(1));
      return subtle;
    } catch {
      return null;
    }
  })();
  return subtlePromise;
}

function pkcs8(seed: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(PKCS8_ED25519_PREFIX.length + seed.length);
  out.set(PKCS8_ED25519_PREFIX, 0);
  out.set(seed, PKCS8_ED25519_PREFIX.length);
  return out;
}

function copy(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(bytes);
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i]!];
  return s;
}

// ASCII code → nibble value, 255 for non-hex characters.
const NIBBLE = new Uint8Array(128).fill(255);
for (let i = 0; i < 10; i++) NIBBLE[48 + i] = i;
for (let i = 0; i < 6; i++) {
  NIBBLE[65 + i] = 10 + i;
  NIBBLE[97 + i] = 10 + i;
}

export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0) throw new TypeError('invalid hex string');
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) {
    const hi = NIBBLE[hex.charCodeAt(2 * i)] ?? 255;
    const lo = NIBBLE[hex.charCodeAt(2 * i + 1)] ?? 255;
    if (hi === 255 || lo === 255) throw new TypeError('invalid hex string');
    out[i] = (hi << 4) | lo;
  }
  return out;
}

export function peerIdFromPublicKey(publicKey: Uint8Array): string {
  if (publicKey.length !== PUBLIC_KEY_BYTES)
    throw new TypeError(`public key must be ${PUBLIC_KEY_BYTES} bytes`);
  return toHex(publicKey);
}

const PEER_ID_RE = /^[0-9a-f]{64}$/;
export function isPeerId(value: string): boolean {
  return PEER_ID_RE.test(value);
}

export function publicKeyFromPeerId(peerId: string): Uint8Array {
  if (!isPeerId(peerId)) throw new TypeError('peer id must be 64 lowercase hex characters');
  return fromHex(peerId);
}

/** Restores an identity from its 32-byte seed. */
export async function identityFromSecretKey(secretKey: Uint8Array): Promise<Identity> {
  if (secretKey.length !== SECRET_KEY_BYTES)
    throw new TypeError(`secret key must be ${SECRET_KEY_BYTES} bytes`);
  const seed = copy(secretKey);
  const subtle = await ed25519Subtle();
  if (subtle) {
    const privateKey = await subtle.importKey('pkcs8', pkcs8(seed), { name: 'Ed25519' }, false, ['sign']);
    const publicKey = noble.getPublicKey(seed);
    return {
      peerId: peerIdFromPublicKey(publicKey),
      publicKey,
      secretKey: seed,
      sign: async (message) => new Uint8Array(await subtle.sign('Ed25519', privateKey, copy(message))),
    };
  }
  const publicKey = noble.getPublicKey(seed);
  return {
    peerId: peerIdFromPublicKey(publicKey),
    publicKey,
    secretKey: seed,
    sign: async (message) => noble.sign(message, seed),
  };
}

export async function generateIdentity(): Promise<Identity> {
  const seed = new Uint8Array(SECRET_KEY_BYTES);
  globalThis.crypto.getRandomValues(seed);
  return identityFromSecretKey(seed);
}

/** Never throws: malformed keys or signatures verify as false. */
export async function verifySignature(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  if (publicKey.length !== PUBLIC_KEY_BYTES || signature.length !== SIGNATURE_BYTES) return false;
  try {
    const subtle = await ed25519Subtle();
    if (subtle) {
      const key = await subtle.importKey('raw', copy(publicKey), { name: 'Ed25519' }, false, ['verify']);
      return await subtle.verify('Ed25519', key, copy(signature), copy(message));
    }
    return noble.verify(signature, message, publicKey);
  } catch {
    return false;
  }
}
