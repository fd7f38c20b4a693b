/**
 * The caller's side of §1.6 steps 3 and 5: the gate's dispatch to remote
 * experts and what stands in for the ones that do not answer (§1.8).
 *
 * - `collect`: each chosen remote peer j gets `forward` with only the rows
 *   routed to it, in parallel; answers are validated (shape, every value
 *   finite); the step proceeds once k_min answers are in plus a grace period
 *   (or at the forward timeout). Outcomes: ok, invalid, late, failed.
 * - `expertContributions`: per slot, the valid answer, else the student's
 *   block for it (never a deeper query: depth 1, Fig 3); valid answers also
 *   train the student of G (g-student.ts).
 * - `sendBackward`: ∂L_i/∂a_j to every j that answered, fire-and-forget.
 * - `liveAnswers`: the read-only forwards of the live evaluation and of the
 *   removal-cost pass.
 */
import { type ExpertNetwork, invalidTensorReason, type WireDtype, type WireTensor } from '@peerbench/mesh';
import * as tf from '@tensorflow/tfjs';
import type { GStudent, SlotAnswer } from './g-student.js';
import type { Routing } from './gate.js';
import type { StepOptions } from './trainer-options.js';

/** Where each expert's contribution in a step came from. */
export type ExpertSource = 'self' | 'remote' | 'stand-in' | 'none';

/** Counters of remote answers since start (the caller's defences). */
export interface AnswerStats {
  requested: number;
  accepted: number;
  /** NaN/Inf or wrong shape: ignored. */
  invalid: number;
  /** Not back within k_min + grace or the timeout: stand-in used. */
  late: number;
  /** Peer gone, refused, or any transport error. */
  failed: number;
  /** Contributions served by a distilled stand-in (for any reason). */
  standIn: number;
  backwardSent: number;
  backwardFailed: number;
  /** Forward payload bytes sent (inputs) and received (answers, at the wire dtype). */
  forwardRequestBytes: number;
  forwardAnswerBytes: number;
}

/** One forward of a training step: the rows routed to a remote slot, and how it went. */
export interface PendingCall {
  slot: number;
  peerId: string;
  rows: number[];
  answer: WireTensor | null;
  outcome: 'pending' | 'ok' | 'invalid' | 'late' | 'failed';
  /** Set when the forward is sent; the backward names the same request. */
  requestId?: string;
}

let requestCounter = 0;
function newRequestId(): string {
  return `${Date.now().toString(36)}-${(++requestCounter).toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

function wireBytesPerValue(dtype: WireDtype): number {
  return dtype === 'fp16' ? 2 : 4;
}

/** The rows `rows` of the row-major matrix `x` of `width` columns, packed in that order. */
export function gatherRows(x: Float32Array, width: number, rows: readonly number[]): Float32Array {
  const out = new Float32Array(rows.length * width);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    out.set(x.subarray(r * width, (r + 1) * width), i * width);
  }
  return out;
}

/** The inverse of gatherRows: `packed` [rows.length, width] placed at `rows` of a zero [total, width] matrix. */
export function scatterRows(
  packed: Float32Array,
  width: number,
  rows: readonly number[],
  total: number,
): Float32Array {
  const full = new Float32Array(total * width);
  for (let i = 0; i < rows.length; i++)
    full.set(packed.subarray(i * width, (i + 1) * width), rows[i]! * width);
  return full;
}

/** The forwards to send this step: one per remote slot that is online and has rows routed to it. */
export function pendingCalls(
  slots: ReadonlyArray<string | null>,
  routing: Routing,
  online: Set<string>,
): PendingCall[] {
  const pending: PendingCall[] = [];
  for (let s = 1; s < slots.length; s++) {
    const peerId = slots[s];
    const rows = routing.rowsBySlot[s]!;
    if (peerId && rows.length > 0 && online.has(peerId))
      pending.push({ slot: s, peerId, rows, answer: null, outcome: 'pending' });
  }
  return pending;
}

/** The expert inputs of one step's loss (see `expertContributions`). */
export interface ExpertContributions {
  /** Contributing slots in order; slot 0 (self) first. */
  active: number[];
  /** Per active slot its [B, d] input of the loss; entry 0 is the zero tap added to f_i(x). */
  experts: tf.Tensor2D[];
  /** The student's distillation loss of this step (eq 11), when it was fitted. */
  studentLoss: tf.Scalar | null;
}

/**
 * Per remote slot: the valid answer of its peer (scattered to its rows of
 * the batch), else the student's block for it (§1.8) when rows were routed
 * to it and the block is trained, else nothing. With `distill`, the valid
 * answers also train the student of G (one fit, against the detached
 * answers). Records each slot's source and counts accepted answers and
 * stand-ins. Call inside a tf.tidy: the tensors it makes are the tidy's.
 */
export function expertContributions(args: {
  x: tf.Tensor2D;
  /** x's values (rows × inputSize), for the student's memory. */
  xData: Float32Array;
  d: number;
  slots: number;
  pending: readonly PendingCall[];
  routing: Routing;
  student: GStudent;
  distill: boolean;
  sources: ExpertSource[];
  answers: AnswerStats;
}): ExpertContributions {
  const { x, d, pending, routing, student, sources, answers } = args;
  const B = x.shape[0];
  const bySlot = new Map(pending.map((p) => [p.slot, p]));
  // Slot 0 is a zero "tap" added to f_i(x), so its gradient is ∂L/∂f_i(x)
  // through G alone; the remote answers and stand-in outputs are constants
  // of the tape.
  const out: ExpertContributions = { active: [0], experts: [tf.zeros([B, d])], studentLoss: null };
  // Stand-ins are read before this step's fit: what the student knew when the step began.
  const standIn = student.blocksOf(x);
  const learned: SlotAnswer[] = [];
  for (let s = 1; s < args.slots; s++) {
    const p = bySlot.get(s);
    if (p?.outcome === 'ok' && p.answer) {
      sources[s] = 'remote';
      answers.accepted++;
      learned.push({ slot: s, rows: p.rows, data: p.answer.data });
      out.active.push(s);
      out.experts.push(tf.tensor2d(scatterRows(p.answer.data, d, p.rows, B), [B, d]));
    } else if (routing.rowsBySlot[s]!.length > 0 && student.ready(s)) {
      sources[s] = 'stand-in';
      answers.standIn++;
      out.active.push(s);
      out.experts.push(standIn(s));
    }
  }
  // §1.8, eq 11: the student learns what the network answers (detached).
  // Every step's answers are remembered; a distillation step fits on them (and replays older ones).
  student.remember(args.xData, learned);
  if (args.distill) out.studentLoss = student.fit();
  return out;
}

/** The trainer's calls to remote experts over one ExpertNetwork (or none), with their counters. */
export class ExpertCalls {
  readonly answers: AnswerStats = {
    requested: 0,
    accepted: 0,
    invalid: 0,
    late: 0,
    failed: 0,
    standIn: 0,
    backwardSent: 0,
    backwardFailed: 0,
    forwardRequestBytes: 0,
    forwardAnswerBytes: 0,
  };
  private readonly inflightBackwards = new Set<Promise<void>>();

  /**
   * `slots` is the trainer's slot table (slot → peerId, slot 0 = self; the
   * trainer changes it in place); `inputSize` is the width of x, `d` of an
   * answer; `options` is read on every call (the trainer's step options may
   * be replaced between steps).
   */
  constructor(
    private network: ExpertNetwork | null,
    private readonly slots: ReadonlyArray<string | null>,
    private readonly inputSize: number,
    private readonly d: number,
    private readonly options: () => StepOptions,
  ) {}

  setNetwork(network: ExpertNetwork | null): void {
    this.network = network;
  }

  /** The peers the network can reach now. */
  online(): Set<string> {
    return new Set(this.network?.peers() ?? []);
  }

  /** Sends the forwards and waits: k_min answers, then a grace period (or until all are in, or the timeout). */
  async collect(pending: PendingCall[], x: Float32Array): Promise<void> {
    const net = this.network;
    if (!net || pending.length === 0) return;
    const opts = this.options();
    const controller = new AbortController();
    const kMin = Math.min(opts.kMin, pending.length);
    let answered = 0;
    let settled = 0;
    let wake: (() => void) | null = null;
    const poke = () => wake?.();
    for (const p of pending) {
      const input: WireTensor = {
        shape: [p.rows.length, this.inputSize],
        data: gatherRows(x, this.inputSize, p.rows),
      };
      this.answers.requested++;
      this.answers.forwardRequestBytes += input.data.length * wireBytesPerValue(opts.wireDtype);
      const requestId = newRequestId();
      p.requestId = requestId;
      net
        .forward(p.peerId, input, {
          requestId,
          timeoutMs: opts.forwardTimeoutMs,
          signal: controller.signal,
          wireDtype: opts.wireDtype,
        })
        .then(
          (answer) => {
            if (p.outcome !== 'pending') return;
            this.answers.forwardAnswerBytes += answer.data.length * wireBytesPerValue(opts.wireDtype);
            if (invalidTensorReason(answer, [p.rows.length, this.d])) {
              p.outcome = 'invalid';
              this.answers.invalid++;
            } else {
              p.outcome = 'ok';
              p.answer = answer;
              answered++;
            }
          },
          (err: unknown) => {
            if (p.outcome !== 'pending') return;
            // A transport timeout is lateness, like an answer that misses the grace period.
            p.outcome = (err as { code?: string } | null)?.code === 'timeout' ? 'late' : 'failed';
          },
        )
        .finally(() => {
          settled++;
          poke();
        });
    }
    const waitUntil = (cond: () => boolean, ms: number) =>
      new Promise<void>((resolve) => {
        if (cond()) return resolve();
        const timer = setTimeout(done, ms);
        function done() {
          clearTimeout(timer);
          wake = null;
          resolve();
        }
        wake = () => {
          if (cond()) done();
        };
      });
    const t0 = performance.now();
    await waitUntil(() => answered >= kMin || settled === pending.length, opts.forwardTimeoutMs);
    const left = Math.max(0, opts.forwardTimeoutMs - (performance.now() - t0));
    await waitUntil(() => settled === pending.length, Math.min(opts.graceMs, left));
    controller.abort();
    for (const p of pending) {
      if (p.outcome === 'pending') p.outcome = 'late';
      if (p.outcome === 'late') this.answers.late++;
      else if (p.outcome === 'failed') this.answers.failed++;
    }
  }

  /** `backward` with the answer's gradient to every peer of `pending` that has one in `answerGrads`; not awaited. */
  sendBackward(pending: readonly PendingCall[], answerGrads: Map<number, Float32Array>): void {
    const net = this.network;
    if (!net) return;
    const opts = this.options();
    for (const p of pending) {
      const grad = answerGrads.get(p.slot);
      const requestId = p.requestId;
      if (!grad || !requestId) continue;
      this.answers.backwardSent++;
      const sent: Promise<void> = net
        .backward(
          p.peerId,
          { shape: [p.rows.length, this.d], data: grad },
          { requestId, timeoutMs: opts.backwardTimeoutMs, wireDtype: opts.wireDtype },
        )
        .catch(() => {
          this.answers.backwardFailed++;
        })
        .finally(() => this.inflightBackwards.delete(sent));
      this.inflightBackwards.add(sent);
    }
  }

  /** Resolves when every backward sent so far has been answered or has failed (see Trainer.settleBackwards). */
  async settleBackwards(): Promise<void> {
    await Promise.allSettled([...this.inflightBackwards]);
  }

  /**
   * The valid live answers for the rows `routing` sends to each remote slot,
   * slot → [rows routed, d] values; read-only (no backward, no
   * counter). Slot `ablated`, offline peers and slots with no rows are not
   * asked; a refused, late or invalid answer is left out (its stand-in
   * answers in its place). `signal` aborts the outstanding forwards.
   */
  async liveAnswers(
    routing: Routing,
    xs: Float32Array,
    online: Set<string>,
    ablated: number,
    signal: AbortSignal | undefined,
  ): Promise<Map<number, Float32Array>> {
    const out = new Map<number, Float32Array>();
    const net = this.network;
    if (!net) return out;
    const opts = this.options();
    const controller = new AbortController();
    const abort = () => controller.abort(signal?.reason);
    signal?.addEventListener('abort', abort, { once: true });
    try {
      await Promise.all(
        this.slots.map(async (peerId, s) => {
          const rs = routing.rowsBySlot[s]!;
          if (s === 0 || s === ablated || !peerId || rs.length === 0 || !online.has(peerId)) return;
          try {
            const answer = await net.forward(
              peerId,
              { shape: [rs.length, this.inputSize], data: gatherRows(xs, this.inputSize, rs) },
              {
                requestId: newRequestId(),
                timeoutMs: opts.forwardTimeoutMs,
                signal: controller.signal,
                wireDtype: opts.wireDtype,
              },
            );
            if (!invalidTensorReason(answer, [rs.length, this.d])) out.set(s, answer.data);
          } catch {
            // absent, refused, late: the stand-in answers in its place
          }
        }),
      );
    } finally {
      signal?.removeEventListener('abort', abort);
    }
    return out;
  }
}
