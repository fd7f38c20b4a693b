import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type GiveUpReason, PendingCalls } from '../src/pending-calls.js';

class CodedError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function table(maxId?: number) {
  const gaveUp: Array<[number, GiveUpReason, string]> = [];
  const calls = new PendingCalls<string, string>({
    timeoutError: (ms, ctx) => new CodedError('timeout', `${ctx}: ${ms} ms`),
    abortError: (ctx) => new CodedError('cancelled', `${ctx}: aborted`),
    onGiveUp: (id, reason, ctx) => gaveUp.push([id, reason, ctx]),
    ...(maxId !== undefined ? { maxId } : {}),
  });
  return { calls, gaveUp };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('PendingCalls', () => {
  it('settles a call once by its answer; later answers, errors and deadlines are ignored', async () => {
    vi.useFakeTimers();
    const { calls, gaveUp } = table();
    const { id, promise } = calls.add({ timeoutMs: 100, context: 'a' });
    expect(calls.size).toBe(1);
    expect(calls.context(id)).toBe('a');
    expect(calls.resolve(id, 'answer')).toBe(true);
    expect(calls.resolve(id, 'again')).toBe(false);
    expect(calls.reject(id, new Error('late'))).toBe(false);
    await vi.advanceTimersByTimeAsync(1000);
    await expect(promise).resolves.toBe('answer');
    expect(calls.size).toBe(0);
    expect(calls.has(id)).toBe(false);
    expect(gaveUp).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('rejects at the deadline with the owner’s error and reports the give-up once', async () => {
    vi.useFakeTimers();
    const { calls, gaveUp } = table();
    const { id, promise } = calls.add({ timeoutMs: 100, context: 'b' });
    const settled = expect(promise).rejects.toMatchObject({ code: 'timeout', message: 'b: 100 ms' });
    await vi.advanceTimersByTimeAsync(99);
    expect(calls.has(id)).toBe(true);
    await vi.advanceTimersByTimeAsync(1);
    await settled;
    expect(gaveUp).toEqual([[id, 'timeout', 'b']]);
    expect(calls.resolve(id, 'too late')).toBe(false);
  });

  it('without a deadline waits for its answer', async () => {
    vi.useFakeTimers();
    const { calls } = table();
    const { id, promise } = calls.add({ context: 'c' });
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(3_600_000);
    expect(calls.has(id)).toBe(true);
    calls.resolve(id, 'eventually');
    await expect(promise).resolves.toBe('eventually');
  });

  it('an abort rejects the call; settled calls leave no listener on a shared signal', async () => {
    const { calls, gaveUp } = table();
    const controller = new AbortController();
    for (let i = 0; i < 20; i++) {
      const { id, promise } = calls.add({ timeoutMs: 1000, signal: controller.signal, context: `s${i}` });
      calls.resolve(id, 'ok');
      await promise;
    }
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    const { id, promise } = calls.add({ timeoutMs: 1000, signal: controller.signal, context: 'hang' });
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    controller.abort();
    await expect(promise).rejects.toMatchObject({ code: 'cancelled', message: 'hang: aborted' });
    expect(gaveUp).toEqual([[id, 'aborted', 'hang']]);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('an already aborted signal rejects at once and leaves nothing pending', async () => {
    const { calls, gaveUp } = table();
    const { promise } = calls.add({ timeoutMs: 1000, signal: AbortSignal.abort(), context: 'pre' });
    await expect(promise).rejects.toMatchObject({ code: 'cancelled' });
    expect(calls.size).toBe(0);
    expect(gaveUp).toEqual([]);
  });

  it('rejectAll fails every call with one error, clears timers, and reports no give-up', async () => {
    vi.useFakeTimers();
    const { calls, gaveUp } = table();
    const a = calls.add({ timeoutMs: 100, context: 'a' });
    const b = calls.add({ context: 'b' });
    const stopped = new CodedError('closed', 'stopped');
    calls.rejectAll(stopped);
    await expect(a.promise).rejects.toBe(stopped);
    await expect(b.promise).rejects.toBe(stopped);
    expect(calls.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    expect(gaveUp).toEqual([]);
    // The table still works after a stop (a client may start again).
    const c = calls.add({ context: 'c' });
    calls.resolve(c.id, 'after');
    await expect(c.promise).resolves.toBe('after');
  });

  it('ids are never 0, wrap at maxId, and skip ids still pending', async () => {
    const { calls } = table(3);
    const first = calls.add({ context: 'long-lived' });
    expect(first.id).toBe(1);
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) {
      const c = calls.add({ context: `${i}` });
      ids.push(c.id);
      calls.resolve(c.id, 'ok');
    }
    expect(ids).toEqual([2, 3, 2, 3, 2]);
    calls.resolve(first.id, 'done');
    await expect(first.promise).resolves.toBe('done');
  });
});
