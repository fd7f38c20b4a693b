/**
 * The "CPU use" command between the page and the Peer's worker, both sides.
 * The worker answers every set-cpu with the level its loop now runs at, so
 * the page shows what the worker applied, not what it asked for.
 */
import { type CpuLevel, paceOf } from './cpuUse.js';
import type { Pace } from './pacedPeer.js';
import { parseSetCpu, parseWorkerEvent, type SetCpuMessage, type WorkerEvent } from './workerProtocol.js';

/** A set-cpu the worker does not answer within this fails (the worker is busy or gone). */
export const SET_CPU_TIMEOUT_MS = 10_000;

/** What both sides post to: a Worker, a worker's global scope, a MessagePort. */
export interface MessageTarget {
  postMessage(message: unknown): void;
  addEventListener(type: 'message', cb: (e: { data: unknown }) => void): void;
  removeEventListener(type: 'message', cb: (e: { data: unknown }) => void): void;
}

/**
 * Worker side: the answer to `data` if it is a set-cpu message (after the pace
 * is applied), else null (not ours: the init handler's business).
 */
export function answerSetCpu(data: unknown, loop: { setPace(pace: Pace): void }): WorkerEvent | null {
  if ((data as { t?: unknown } | null)?.t !== 'set-cpu') return null;
  const parsed = parseSetCpu(data);
  if (typeof parsed === 'string') return { t: 'uncaught', message: `bad set-cpu message: ${parsed}` };
  loop.setPace(paceOf(parsed.msg.level));
  return {
    t: 'cpu',
    id: parsed.msg.id,
    level: parsed.msg.level,
    ...(parsed.note ? { note: parsed.note } : {}),
  };
}

export class CpuControlError extends Error {
  readonly code = 'cpu-not-applied';
}

/** Page side: sends set-cpu and resolves with the worker's answer. */
export class CpuControl {
  private nextId = 1;
  private readonly pending = new Map<number, (answer: { level: CpuLevel; note?: string }) => void>();
  private readonly listener = (e: { data: unknown }) => {
    const event = parseWorkerEvent(e.data);
    if (event?.t !== 'cpu') return;
    this.pending.get(event.id)?.(
      event.note ? { level: event.level, note: event.note } : { level: event.level },
    );
  };

  constructor(
    private readonly target: MessageTarget,
    private readonly timeoutMs = SET_CPU_TIMEOUT_MS,
  ) {
    target.addEventListener('message', this.listener);
  }

  set(level: CpuLevel): Promise<{ level: CpuLevel; note?: string }> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(
          new CpuControlError(`the worker did not confirm the CPU use within ${this.timeoutMs / 1000} s`),
        );
      }, this.timeoutMs);
      this.pending.set(id, (answer) => {
        clearTimeout(timer);
        this.pending.delete(id);
        resolve(answer);
      });
      const msg: SetCpuMessage = { t: 'set-cpu', id, level };
      this.target.postMessage(msg);
    });
  }

  close(): void {
    this.target.removeEventListener('message', this.listener);
  }
}
