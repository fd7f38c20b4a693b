/**
 * Validation loss and accuracy of a trainer's whole model (encoder, gate,
 * head over G(x)) on held-out data, without gate noise and without changing
 * anything (no weight, score, stand-in or counter; no backward):
 *
 * - `evaluateOffline`: the network cut off: every remote slot is the
 *   student's block for it and, at depth 1, f_i's view of the network is the
 *   student's too (§1.8: "components can fully disconnect from the network
 *   using the distilled inputs to validate and inference the models
 *   offline");
 * - `evaluateLive`: every routed slot is answered by its peer over the live
 *   network, by its stand-in only when the peer is absent, fails, is late or
 *   answers garbage; `ablate` zeroes one peer's f_j in G(x) with the gate
 *   unchanged — eq 2's ΔF = −f_j, measured instead of estimated.
 */
import { MAX_FORWARD_ROWS } from '@peerbench/mesh';
import * as tf from '@tensorflow/tfjs';
import { scatterRows } from './expert-calls.js';
import { availableTensor } from './gate.js';
import type { Batch } from './task.js';
import type { Trainer } from './trainer.js';

export interface EvalResult {
  loss: number;
  accuracy: number;
}

export interface EvaluateLiveOptions {
  /**
   * Zero this peer's contribution f_j in G(x) (ΔF = −f_j of eq 2), the gate
   * left unchanged. May be the trainer's own selfId (slot 0). A peer that has
   * no slot changes nothing. null/undefined: no ablation.
   */
  ablate?: string | null;
  /** Evaluate on these examples instead of the task's balanced held-out set (e.g. its validation slice). */
  data?: Batch;
  /** Aborts the outstanding forwards; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** [mean cross-entropy, correct predictions] of one evaluation batch, as one tensor to read. */
function lossAndHits(y: tf.Tensor2D, logits: tf.Tensor2D): tf.Tensor1D {
  const loss = tf.losses.softmaxCrossEntropy(y, logits);
  const hits = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), tf.argMax(y, 1)), 'float32'));
  return tf.stack([loss, hits]) as tf.Tensor1D;
}

async function readAndDispose(t: tf.Tensor): Promise<Float32Array> {
  try {
    return (await t.data()) as Float32Array;
  } finally {
    t.dispose();
  }
}

/** Loss and accuracy on `data` (default: the task's held-out set), offline (the student for every remote slot). */
export async function evaluateOffline(trainer: Trainer, data?: Batch): Promise<EvalResult> {
  const task = trainer.task;
  const ev = data ?? task.evalSet();
  const available = trainer.slots.map((p, s) => s === 0 || (p !== null && trainer.standIns.ready(s)));
  const x = tf.tensor2d(ev.x, [ev.size, task.inputSize]);
  const { h, f } = trainer.represent(x);
  try {
    const routing = await trainer.gate.route(h, available, false);
    const sums = tf.tidy(() => {
      const y = tf.tensor2d(ev.y, [ev.size, task.numClasses]);
      const g = trainer.gate.gates(h, routing, availableTensor(available));
      const standIn = trainer.standIns.blocksOf(x);
      const contributions = trainer.slots.map((_, s) => (s === 0 ? f : available[s] ? standIn(s) : null));
      const logits = trainer.head.apply(trainer.combine(ev.size, g, contributions));
      return lossAndHits(y, logits);
    });
    const [loss, hits] = await readAndDispose(sums);
    return { loss: loss!, accuracy: hits! / ev.size };
  } finally {
    tf.dispose([x, h, f]);
  }
}

/** Loss and accuracy with the live network (see the file comment), in chunks of at most MAX_FORWARD_ROWS rows. */
export async function evaluateLive(trainer: Trainer, opts: EvaluateLiveOptions = {}): Promise<EvalResult> {
  const { signal } = opts;
  signal?.throwIfAborted();
  const task = trainer.task;
  const ev = opts.data ?? task.evalSet();
  const inputSize = task.inputSize;
  const d = trainer.model.representationSize;
  const ablated = opts.ablate == null ? -1 : trainer.slots.indexOf(opts.ablate);
  const online = trainer.calls.online();
  // Same availability as a training step, without giving newcomers slots (read-only).
  const available = trainer.availability(online);
  let lossSum = 0;
  let correct = 0;
  for (let start = 0; start < ev.size; start += MAX_FORWARD_ROWS) {
    const rows = Math.min(MAX_FORWARD_ROWS, ev.size - start);
    const xs = ev.x.subarray(start * inputSize, (start + rows) * inputSize);
    const ys = ev.y.subarray(start * task.numClasses, (start + rows) * task.numClasses);
    const x = tf.tensor2d(xs, [rows, inputSize]);
    const { h, f } = trainer.represent(x);
    try {
      const routing = await trainer.gate.route(h, available, false);
      const answers = await trainer.calls.liveAnswers(routing, xs, online, ablated, signal);
      signal?.throwIfAborted();
      const chunk = tf.tidy(() => {
        const y = tf.tensor2d(ys, [rows, task.numClasses]);
        const g = trainer.gate.gates(h, routing, availableTensor(available));
        const standIn = trainer.standIns.blocksOf(x);
        const contributions: (tf.Tensor2D | null)[] = trainer.slots.map((_, s) => {
          if (s === ablated) return null;
          if (s === 0) return f;
          const answer = answers.get(s);
          if (answer) return tf.tensor2d(scatterRows(answer, d, routing.rowsBySlot[s]!, rows), [rows, d]);
          // Absent, failed or garbage: the stand-in, when it is trained; else nothing.
          return routing.rowsBySlot[s]!.length > 0 && trainer.standIns.ready(s) ? standIn(s) : null;
        });
        const logits = trainer.head.apply(trainer.combine(rows, g, contributions));
        return lossAndHits(y, logits);
      });
      const [loss, hits] = await readAndDispose(chunk);
      // softmaxCrossEntropy averages over the chunk; weight it by its rows.
      lossSum += loss! * rows;
      correct += hits!;
    } finally {
      tf.dispose([x, h, f]);
    }
  }
  return { loss: lossSum / Math.max(1, ev.size), accuracy: correct / Math.max(1, ev.size) };
}

/**
 * Held-out accuracy live (the network answers; null without a network) and
 * offline (the student of G answers for it), side by side (issue 16);
 * `accuracy` is the live figure when there is one.
 */
export async function liveAndOfflineAccuracy(
  trainer: Trainer,
  networked: boolean,
): Promise<{ accuracy: number; offlineAccuracy: number }> {
  const live = networked ? await evaluateLive(trainer) : null;
  const offline = await evaluateOffline(trainer);
  return { accuracy: live?.accuracy ?? offline.accuracy, offlineAccuracy: offline.accuracy };
}
