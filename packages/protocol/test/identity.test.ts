import * as noble from '@noble/ed25519';
import { describe, expect, it } from 'vitest';
import {
  fromHex,
  generateIdentity,
  identityFromSecretKey,
  isPeerId,
  peerIdFromPublicKey,
  publicKeyFromPeerId,
  toHex,
  verifySignature,
} from '../src/identity.js';

describe('identity', () => {
  it('signs and verifies; a flipped bit in message, signature or key fails', async () => {
    const id = await generateIdentity();
    const msg = new TextEncoder().encode('set-weights 1');
    const sig = await id.sign(msg);
    expect(await verifySignature(id.publicKey, msg, sig)).toBe(true);
    const badMsg = msg.slice();
    badMsg[0]! ^= 1;
    expect(await verifySignature(id.publicKey, badMsg, sig)).toBe(false);
    const badSig = sig.slice();
    badSig[10]! ^= 1;
    expect(await verifySignature(id.publicKey, msg, badSig)).toBe(false);
    const other = await generateIdentity();
    expect(await verifySignature(other.publicKey, msg, sig)).toBe(false);
  });

  it('restores the same id from the seed and matches the pure-JS implementation', async () => {
    const id = await generateIdentity();
    const again = await identityFromSecretKey(id.secretKey);
    expect(again.peerId).toBe(id.peerId);
    const msg = new Uint8Array([1, 2, 3]);
    const sig = await again.sign(msg);
    expect(toHex(sig)).toBe(toHex(noble.sign(msg, id.secretKey)));
  });

  it('peer ids are the hex public key', async () => {
    const id = await generateIdentity();
    expect(isPeerId(id.peerId)).toBe(true);
    expect(peerIdFromPublicKey(publicKeyFromPeerId(id.peerId))).toBe(id.peerId);
    expect(isPeerId('ABC')).toBe(false);
    expect(() => fromHex('zz')).toThrow();
  });

  it('malformed keys and signatures verify as false instead of throwing', async () => {
    expect(await verifySignature(new Uint8Array(3), new Uint8Array(1), new Uint8Array(64))).toBe(false);
    expect(await verifySignature(new Uint8Array(32), new Uint8Array(1), new Uint8Array(5))).toBe(false);
  });
});
