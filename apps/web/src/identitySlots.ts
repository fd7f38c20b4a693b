/**
 * Which saved identity this tab uses. Every tab of one browser shares
 * IndexedDB, but two tabs must never join a room as the same peer, so each
 * identity is a "slot" claimed with a Web Lock held for the tab's lifetime: a
 * reload gets the same slot back (same uid), a second tab gets the next one.
 */
import { fromHex, generateIdentity, type Identity, identityFromSecretKey, toHex } from '@peerbench/protocol';
import { addIdentity, type KeyValueStore, type PersistedState, updateState } from './persistence.js';

const LOCK_PREFIX = 'peerbench-identity-slot-';
/** Bounds the search; more tabs than this in one browser reuse nothing and get a temporary identity. */
export const MAX_IDENTITY_SLOTS = 32;

interface LockManagerLike {
  request(
    name: string,
    options: { ifAvailable: boolean },
    callback: (lock: unknown) => Promise<void> | undefined,
  ): Promise<unknown>;
}

function lockManager(): LockManagerLike | null {
  const locks = (globalThis.navigator as (Navigator & { locks?: LockManagerLike }) | undefined)?.locks;
  return locks ?? null;
}

/** Tries to take slot `slot` for the rest of the page's life. */
function claim(slot: number): Promise<boolean> {
  const locks = lockManager();
  if (!locks) return Promise.resolve(slot === 0);
  return new Promise((resolve) => {
    locks
      .request(`${LOCK_PREFIX}${slot}`, { ifAvailable: true }, (lock) => {
        if (!lock) {
          resolve(false);
          return undefined;
        }
        resolve(true);
        return new Promise<void>(() => {}); // never settles: held until the page goes away
      })
      .catch(() => resolve(false));
  });
}

export interface ClaimedIdentity {
  identity: Identity;
  /** null when the identity is temporary (storage unavailable or read-only). */
  slot: number | null;
}

export async function claimIdentity(
  kv: KeyValueStore,
  state: PersistedState,
  writable: boolean,
): Promise<ClaimedIdentity> {
  if (!writable) return { identity: await generateIdentity(), slot: null };
  for (let slot = 0; slot < Math.min(state.identities.length, MAX_IDENTITY_SLOTS); slot++) {
    const seed = state.identities[slot];
    if (!seed) continue;
    if (await claim(slot)) return { identity: await identityFromSecretKey(fromHex(seed)), slot };
  }
  // No free saved identity: make one, store it atomically, then claim its slot.
  for (let attempt = 0; attempt < 4; attempt++) {
    const identity = await generateIdentity();
    const seedHex = toHex(identity.secretKey);
    let slot = -1;
    await updateState(kv, (s) => {
      slot = addIdentity(s, seedHex);
      return s;
    });
    if (slot >= 0 && slot < MAX_IDENTITY_SLOTS && (await claim(slot))) return { identity, slot };
  }
  return { identity: await generateIdentity(), slot: null };
}
