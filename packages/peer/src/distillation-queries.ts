/**
 * Distillation queries (issue 16): in its own step — never while answering
 * a caller — a peer sends a few of the inputs its callers trained on
 * (caller-inputs.ts) to its neighbours, forward only, and fits the student
 * of G (g-student.ts) to their answers. So the student learns each neighbour
 * also where this peer's callers read its answers, not only on this peer's
 * own (skewed) batches: a depth-1 answer (composition.ts) then carries a
 * neighbour's features for the inputs a caller actually sends, and offline
 * the student covers more than this peer's own data.
 *
 * Cost, per query round (every `distillQueryEverySteps`-th step): at most
 * `callerDistillRows` rows, sent to every remote slot whose peer is online
 * (one forward each, ≤ MAX_FORWARD_ROWS rows; no backward), and one more
 * optimiser step of the student. Answers are validated like every live
 * answer (shape, finite values); a refused, late or invalid one is left out.
 * A slot that changed hands while the queries were out is not fitted (the
 * answer is the old peer's).
 */
import type { CallerInputs } from './caller-inputs.js';
import type { ExpertCalls } from './expert-calls.js';
import type { GStudent, SlotAnswer } from './g-student.js';
import type { Routing } from './gate.js';

/** What the queries did since start. */
export interface DistillationQueryStats {
  /** Distillation steps that sent at least one query. */
  rounds: number;
  /** Forwards sent and rows in them (over every slot). */
  forwards: number;
  rowsSent: number;
  /** Valid answers the student was fitted on. */
  answers: number;
  /** The student's masked MSE on the latest query rows (before that fit), null before the first. */
  lastLoss: number | null;
}

/** The parts of a trainer the queries use. */
export interface DistillationQueryParts {
  calls: ExpertCalls;
  /** slot → peerId (slot 0 = self), changed in place by the trainer. */
  slots: ReadonlyArray<string | null>;
  student: GStudent;
}

export class DistillationQueries {
  readonly stats: DistillationQueryStats = {
    rounds: 0,
    forwards: 0,
    rowsSent: 0,
    answers: 0,
    lastLoss: null,
  };

  constructor(
    readonly inputs: CallerInputs,
    /** Rows per distillation step (read on every run; 0 turns the queries off). */
    private readonly rowsPerStep: () => number,
  ) {}

  /** One round of queries and one fit of the student; resolves without fitting when there is nothing to ask or no answer. */
  async run(parts: DistillationQueryParts): Promise<void> {
    const { calls, slots, student } = parts;
    const n = Math.floor(this.rowsPerStep());
    if (!(n > 0)) return;
    const online = calls.online();
    const asked = slots.map((peerId, s) => (s > 0 && peerId !== null && online.has(peerId) ? peerId : null));
    if (asked.every((p) => p === null)) return;
    const batch = this.inputs.take(n);
    if (!batch) return;
    const all = Array.from({ length: batch.rows }, (_, i) => i);
    const routing: Routing = {
      batch: batch.rows,
      chosen: new Float32Array(0),
      noise: null,
      rowsBySlot: asked.map((p) => (p === null ? [] : all)),
    };
    const targets = asked.filter((p) => p !== null).length;
    this.stats.rounds++;
    this.stats.forwards += targets;
    this.stats.rowsSent += targets * batch.rows;
    const answers = await calls.liveAnswers(routing, batch.x, online, -1, undefined);
    const learned: SlotAnswer[] = [];
    for (const [slot, data] of answers)
      if (slots[slot] === asked[slot]) learned.push({ slot, rows: all, data });
    if (learned.length === 0) return;
    this.stats.answers += learned.length;
    student.remember(batch.x, learned);
    const loss = student.fit();
    if (!loss) return;
    try {
      this.stats.lastLoss = (await loss.data())[0]!;
    } finally {
      loss.dispose();
    }
  }
}
