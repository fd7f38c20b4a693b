/**
 * What a peer keeps across restarts, and how it is read back (the byte
 * stores themselves are storage.ts: IndexedDB, a directory, memory):
 *
 * - its identity (the Ed25519 secret key), resolved when the Peer is created;
 * - every weight of its trainer (encoder, head, gate, P, student of G) as one
 *   named set, checked against the model's shapes before it is imported;
 * - its slot table, step count and loss/block histories (`PersistedMeta`).
 */
import { generateIdentity, type Identity, identityFromSecretKey } from '@peerbench/protocol';
import { COMPOSITION_WEIGHT_NAME } from './composition.js';
import {
  decodeWeights,
  encodeWeights,
  exportVariables,
  importVariables,
  type NamedWeights,
} from './model.js';
import type { BlockPoint, PeerSnapshot, StepPoint } from './state.js';
import { type PeerStorage, STORAGE_KEYS } from './storage.js';
import type { Trainer } from './trainer.js';

interface PersistedMeta {
  version: 1;
  step: number;
  slots: (string | null)[];
  lossHistory: StepPoint[];
  blockHistory: BlockPoint[];
}

/** The identity to use: `given`, else the one in `storage`, else a new one (saved to `storage`). */
export async function resolveIdentity(
  given: Identity | undefined,
  storage: PeerStorage | null | undefined,
): Promise<Identity> {
  let identity = given;
  if (!identity && storage) {
    const stored = await storage.get(STORAGE_KEYS.identity);
    if (stored) identity = await identityFromSecretKey(stored);
  }
  if (!identity) {
    identity = await generateIdentity();
    await storage?.set(STORAGE_KEYS.identity, identity.secretKey);
  }
  return identity;
}

/** Every weight of `trainer` (encoder, head, gate, P at depth 1, student of G), read back in one asynchronous transfer. */
export async function exportTrainerWeights(trainer: Trainer): Promise<NamedWeights> {
  const names: string[] = [
    ...trainer.encoder.variableNames(),
    ...trainer.head.variableNames(),
    'gate/w_gate',
    'gate/w_noise',
    ...(trainer.composition ? [COMPOSITION_WEIGHT_NAME] : []),
  ];
  const vars = [
    ...trainer.encoder.variables(),
    ...trainer.head.variables(),
    ...trainer.gate.variables(),
    ...(trainer.composition?.variables() ?? []),
  ];
  // Both reads are packed now, synchronously: a later step cannot change what is exported.
  const [own, student] = await Promise.all([exportVariables(names, vars), trainer.standIns.exportWeights()]);
  return { ...own, ...student };
}

/**
 * Why `w` does not fit `trainer`'s model (a missing or unknown weight, a
 * shape that differs — e.g. per-slot stand-ins saved before the one student
 * of G, or P saved at another answer depth), or null when every weight fits.
 */
export function trainerWeightsMismatch(trainer: Trainer, w: NamedWeights): string | null {
  const expected: Record<string, number[]> = trainer.standIns.weightShapes();
  for (const m of [trainer.encoder, trainer.head]) {
    const names = m.variableNames();
    m.variables().forEach((v, i) => {
      expected[names[i]!] = v.shape;
    });
  }
  expected['gate/w_gate'] = trainer.gate.wGate.shape;
  expected['gate/w_noise'] = trainer.gate.wNoise.shape;
  if (trainer.composition) expected[COMPOSITION_WEIGHT_NAME] = trainer.composition.p.shape;
  const sameShape = (a: number[], b: number[]) => a.length === b.length && a.every((x, k) => x === b[k]);
  for (const [name, shape] of Object.entries(expected)) {
    const got = w[name];
    if (!got) return `missing ${name}`;
    if (!sameShape(got.shape, shape) || got.data.length !== shape.reduce((a, b) => a * b, 1))
      return `${name} is [${got.shape.join(', ')}], the model needs [${shape.join(', ')}]`;
  }
  for (const name of Object.keys(w)) if (!(name in expected)) return `unknown weight ${name}`;
  return null;
}

/** Imports every weight of `w` into `trainer` (check it with trainerWeightsMismatch first). */
export function importTrainerWeights(trainer: Trainer, w: NamedWeights): void {
  trainer.encoder.importWeights(w);
  trainer.head.importWeights(w);
  trainer.gate.importWeights(w);
  trainer.standIns.importWeights(w);
  if (trainer.composition) importVariables([COMPOSITION_WEIGHT_NAME], trainer.composition.variables(), w);
}

/**
 * Restores `trainer`'s slots, step count and weights and the peer's
 * histories from `storage`, publishing what it restores. A corrupt history
 * is ignored; weights saved by another model shape are not half-imported:
 * the trainer keeps fresh weights and a 'weights-discarded' error says so.
 */
export async function restorePeerState(
  storage: PeerStorage,
  trainer: Trainer,
  publish: (patch: Partial<PeerSnapshot>) => void,
): Promise<void> {
  const meta = await storage.get(STORAGE_KEYS.meta);
  if (meta) {
    try {
      const m = JSON.parse(new TextDecoder().decode(meta)) as PersistedMeta;
      if (m.version === 1) {
        trainer.restoreSlots(m.slots);
        trainer.stepCount = m.step;
        publish({
          step: m.step,
          lossHistory: m.lossHistory,
          blockHistory: m.blockHistory,
          loss: m.lossHistory.at(-1)?.loss ?? null,
        });
      }
    } catch {
      // A corrupt history is not worth refusing to start over.
    }
  }
  const weights = await storage.get(STORAGE_KEYS.weights);
  if (!weights) return;
  // Weights saved by another model shape (e.g. the sum head of d inputs
  // before G(x) became the concatenation) must not be half-imported: start
  // from fresh weights, keep identity and history, and say so.
  let reason: string | null;
  let decoded: NamedWeights | null = null;
  try {
    decoded = decodeWeights(weights);
    reason = trainerWeightsMismatch(trainer, decoded);
  } catch (err) {
    reason = `unreadable: ${err instanceof Error ? err.message : String(err)}`;
  }
  if (decoded && reason === null) {
    importTrainerWeights(trainer, decoded);
    return;
  }
  publish({
    error: {
      code: 'weights-discarded',
      message: `stored weights do not fit this model (${reason}); training starts from fresh weights`,
    },
  });
}

/** Saves `trainer`'s weights, then its slots and step with the histories of `snapshot()` as they are then. */
export async function savePeerState(
  storage: PeerStorage,
  trainer: Trainer,
  snapshot: () => Pick<PeerSnapshot, 'lossHistory' | 'blockHistory'>,
): Promise<void> {
  await storage.set(STORAGE_KEYS.weights, encodeWeights(await trainer.exportWeights()));
  const { lossHistory, blockHistory } = snapshot();
  const meta: PersistedMeta = {
    version: 1,
    step: trainer.stepCount,
    slots: trainer.slots.slice(),
    lossHistory,
    blockHistory,
  };
  await storage.set(STORAGE_KEYS.meta, new TextEncoder().encode(JSON.stringify(meta)));
}
