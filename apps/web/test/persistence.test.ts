import { describe, expect, it } from 'vitest';
import {
  addIdentity,
  CORRUPT_BACKUP_KEY,
  emptyState,
  historyKey,
  type KeyValueStore,
  loadState,
  MAX_BLOCK_POINTS,
  MAX_HISTORY_ENTRIES,
  migrate,
  PERSIST_VERSION,
  type PersistedState,
  putHistory,
  STORAGE_KEY,
  updateState,
} from '../src/persistence.js';

const SEED_A = 'a'.repeat(64);
const SEED_B = 'b'.repeat(64);
const block = (height: number) => ({ height, timeMs: 1000 * height, stake: height, rank: 0.5, tau: 0.1 });
const step = (i: number) => ({ step: i, timeMs: 100 * i, loss: 1 / (i + 1) });

/** A Map with the same contract as idb-keyval's get/set/update. */
function memoryKv(initial: Record<string, unknown> = {}): KeyValueStore & { map: Map<string, unknown> } {
  const map = new Map(Object.entries(initial));
  return {
    map,
    get: async (k) => structuredClone(map.get(k)),
    set: async (k, v) => {
      map.set(k, structuredClone(v));
    },
    update: async (k, fn) => {
      map.set(k, structuredClone(fn(structuredClone(map.get(k)))));
    },
  };
}

describe('migrate', () => {
  it('starts empty when nothing was stored', () => {
    const r = migrate(undefined);
    expect(r).toEqual({ ok: true, state: emptyState(), migratedFrom: null, warnings: [] });
  });

  it('upgrades a v1 record: the seed becomes slot 0 and the single history belongs to the last room', () => {
    const v1 = {
      version: 1,
      identitySeed: SEED_A,
      lastRoom: 'brisk-otter-1',
      lossHistory: [step(1), step(2)],
      blockHistory: [block(3), block(4)],
    };
    const r = migrate(v1);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.migratedFrom).toBe(1);
    expect(r.state.version).toBe(PERSIST_VERSION);
    expect(r.state.identities).toEqual([SEED_A]);
    expect(r.state.settings.lastRoom).toBe('brisk-otter-1');
    const h = r.state.history[historyKey('brisk-otter-1', 0)];
    expect(h?.blocks.map((b) => b.height)).toEqual([3, 4]);
    expect(h?.loss).toHaveLength(2);
    expect(h?.updatedAtMs).toBe(4000);
  });

  it('drops damaged points one by one instead of losing the record', () => {
    const v1 = {
      version: 1,
      identitySeed: SEED_A,
      lastRoom: 'r1',
      lossHistory: [step(1), { step: 2, timeMs: 'x', loss: 1 }, step(3), null],
      blockHistory: [block(1), { ...block(2), stake: Number.NaN }, block(3)],
    };
    const r = migrate(v1);
    if (!r.ok) throw new Error('expected ok');
    const h = r.state.history[historyKey('r1', 0)]!;
    expect(h.loss.map((p) => p.step)).toEqual([1, 3]);
    expect(h.blocks.map((b) => b.height)).toEqual([1, 3]);
  });

  it('ignores a v1 seed that is not 32 bytes of hex, and an invalid room', () => {
    const r = migrate({
      version: 1,
      identitySeed: 'zz',
      lastRoom: 'bad room!',
      lossHistory: [],
      blockHistory: [],
    });
    if (!r.ok) throw new Error('expected ok');
    expect(r.state.identities).toEqual([]);
    expect(r.state.settings.lastRoom).toBeNull();
  });

  it('reads v2, keeps slot positions around a damaged seed, and gives it the default CPU use', () => {
    const v2 = {
      version: 2,
      identities: [SEED_A, 42, SEED_B],
      settings: { lastRoom: 'room_2' },
      history: { 'room_2#2': { loss: [step(1)], blocks: [block(7)], updatedAtMs: 5 }, 'bad key': {} },
    };
    const r = migrate(v2);
    if (!r.ok) throw new Error('expected ok');
    expect(r.migratedFrom).toBe(2);
    expect(r.state.version).toBe(3);
    expect(r.state.settings).toEqual({ lastRoom: 'room_2', cpu: 'light' });
    expect(r.warnings).toEqual([]);
    expect(r.state.identities).toEqual([SEED_A, '', SEED_B]);
    expect(Object.keys(r.state.history)).toEqual(['room_2#2']);
    expect(addIdentity(r.state, 'c'.repeat(64))).toBe(1);
  });

  it('refuses data from a newer version and corrupt records', () => {
    expect(migrate({ version: PERSIST_VERSION + 1 })).toMatchObject({ ok: false, reason: 'newer-version' });
    expect(migrate('hello')).toMatchObject({ ok: false, reason: 'corrupt' });
    expect(migrate({ version: 0 })).toMatchObject({ ok: false, reason: 'corrupt' });
    expect(migrate({ version: 1.5 })).toMatchObject({ ok: false, reason: 'corrupt' });
    expect(migrate([1, 2])).toMatchObject({ ok: false, reason: 'corrupt' });
  });

  it('is idempotent: migrating a migrated record changes nothing', () => {
    const r1 = migrate({
      version: 1,
      identitySeed: SEED_A,
      lastRoom: 'r',
      lossHistory: [step(1)],
      blockHistory: [block(1)],
    });
    if (!r1.ok) throw new Error('expected ok');
    const r2 = migrate(structuredClone(r1.state));
    expect(r2).toEqual({ ok: true, state: r1.state, migratedFrom: null, warnings: [] });
  });

  it('v3 keeps a known CPU use; a missing one gets the default; an unknown one the default and a warning', () => {
    const v3 = (settings: Record<string, unknown>) => ({
      version: 3,
      identities: [SEED_A],
      settings,
      history: {},
    });
    const kept = migrate(v3({ lastRoom: 'r', cpu: 'full' }));
    expect(kept).toMatchObject({
      ok: true,
      migratedFrom: null,
      warnings: [],
      state: { settings: { cpu: 'full' } },
    });
    const missing = migrate(v3({ lastRoom: 'r' }));
    expect(missing).toMatchObject({ ok: true, warnings: [], state: { settings: { cpu: 'light' } } });
    for (const bad of ['turbo', 7, null, { level: 'full' }]) {
      const r = migrate(v3({ lastRoom: 'r', cpu: bad }));
      if (!r.ok) throw new Error('expected ok');
      expect(r.state.settings.cpu).toBe('light');
      expect(r.warnings).toHaveLength(1);
      expect(r.warnings[0]).toMatch(/CPU use .* not known; using light/);
    }
  });
});

describe('putHistory', () => {
  it('caps points and evicts the least recently updated rooms, never the one being written', () => {
    let s: PersistedState = emptyState();
    for (let i = 0; i < MAX_HISTORY_ENTRIES + 3; i++) {
      s = putHistory(s, historyKey(`room${i}`, 0), { loss: [], blocks: [], updatedAtMs: 100 + i });
    }
    expect(Object.keys(s.history)).toHaveLength(MAX_HISTORY_ENTRIES);
    expect(s.history[historyKey('room0', 0)]).toBeUndefined();
    s = putHistory(s, historyKey('old', 0), {
      loss: [],
      blocks: Array.from({ length: MAX_BLOCK_POINTS + 10 }, (_, i) => block(i)),
      updatedAtMs: 1,
    });
    expect(s.history[historyKey('old', 0)]?.blocks).toHaveLength(MAX_BLOCK_POINTS);
    expect(s.history[historyKey('old', 0)]?.blocks[0]?.height).toBe(10);
  });
});

describe('loadState', () => {
  it('writes a migrated v1 record back as v2', async () => {
    const kv = memoryKv({
      [STORAGE_KEY]: { version: 1, identitySeed: SEED_A, lastRoom: null, lossHistory: [], blockHistory: [] },
    });
    const r = await loadState(kv);
    expect(r).toMatchObject({ writable: true, migratedFrom: 1 });
    expect((kv.map.get(STORAGE_KEY) as PersistedState).version).toBe(3);
  });

  it('sets a corrupt record aside instead of destroying it', async () => {
    const kv = memoryKv({ [STORAGE_KEY]: { garbage: true } });
    const r = await loadState(kv);
    expect(r.writable).toBe(true);
    expect(r.note).toMatch(/set aside/);
    expect(kv.map.get(CORRUPT_BACKUP_KEY)).toEqual({ garbage: true });
    expect(kv.map.get(STORAGE_KEY)).toEqual(emptyState());
  });

  it('rewrites a record with an unknown stored CPU use and says so', async () => {
    const kv = memoryKv({
      [STORAGE_KEY]: {
        version: 3,
        identities: [SEED_A],
        settings: { lastRoom: 'r', cpu: 'max' },
        history: {},
      },
    });
    const r = await loadState(kv);
    expect(r.note).toMatch(/"max".*using light/);
    expect((kv.map.get(STORAGE_KEY) as PersistedState).settings.cpu).toBe('light');
  });

  it('leaves a newer record untouched and reports read-only', async () => {
    const newer = { version: 99, secret: 'keep me' };
    const kv = memoryKv({ [STORAGE_KEY]: newer });
    const r = await loadState(kv);
    expect(r.writable).toBe(false);
    await updateState(kv, (s) => ({ ...s, settings: { ...s.settings, lastRoom: 'x' } }));
    expect(kv.map.get(STORAGE_KEY)).toEqual(newer);
  });

  it("two writers through updateState keep each other's identities", async () => {
    const kv = memoryKv();
    await Promise.all([
      updateState(kv, (s) => {
        addIdentity(s, SEED_A);
        return s;
      }),
      updateState(kv, (s) => {
        addIdentity(s, SEED_B);
        return s;
      }),
    ]);
    expect((kv.map.get(STORAGE_KEY) as PersistedState).identities.sort()).toEqual([SEED_A, SEED_B]);
  });
});
