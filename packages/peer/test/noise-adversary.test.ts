import { type ExpertHandlers, InMemoryHub, type WireTensor } from '@peerbench/mesh';
import { describe, expect, it } from 'vitest';
import { noiseHandlers, withNoiseAnswers } from '../src/noise-adversary.js';

const input = (rows: number): WireTensor => ({ shape: [rows, 784], data: new Float32Array(rows * 784) });
const opts = (requestId: string) => ({ requestId, timeoutMs: 5000 });

describe('noiseHandlers', () => {
  it('answers every forward with [rows, d] uniform noise in [-1, 1], never NaN, and drops gradients', async () => {
    const h = noiseHandlers(8, 1);
    const ac = new AbortController();
    const out = await h.forward('x', 'r1', input(5), ac.signal);
    expect(out.shape).toEqual([5, 8]);
    expect(out.data.every((v) => Number.isFinite(v) && v >= -1 && v <= 1)).toBe(true);
    expect(new Set(out.data).size).toBeGreaterThan(30);
    await expect(h.backward('x', 'r1', out, ac.signal)).resolves.toBeUndefined();
  });

  it('is seeded: the same seed gives the same answers, another seed others', async () => {
    const ac = new AbortController();
    const a = await noiseHandlers(4, 7).forward('x', 'r', input(3), ac.signal);
    const b = await noiseHandlers(4, 7).forward('x', 'r', input(3), ac.signal);
    const c = await noiseHandlers(4, 8).forward('x', 'r', input(3), ac.signal);
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    expect(Array.from(a.data)).not.toEqual(Array.from(c.data));
  });

  it('refuses a width that is not a positive integer', () => {
    expect(() => noiseHandlers(0, 1)).toThrow(RangeError);
    expect(() => noiseHandlers(2.5, 1)).toThrow(RangeError);
  });
});

describe('withNoiseAnswers', () => {
  it('serves noise instead of the honest handlers, and leaves its own calls to others untouched', async () => {
    const hub = new InMemoryHub();
    const noisy = withNoiseAnswers(hub.join('noisy'), 6, 3);
    const honest = hub.join('honest');
    let honestHandlerCalls = 0;
    const counting: ExpertHandlers = {
      async forward(_from, _id, x) {
        honestHandlerCalls++;
        return { shape: [x.shape[0] ?? 0, 6], data: new Float32Array((x.shape[0] ?? 0) * 6).fill(0.25) };
      },
      async backward() {
        honestHandlerCalls++;
      },
    };
    const stopNoisy = noisy.serve(counting);
    const stopHonest = honest.serve(counting);

    // Others asking the noise peer get noise, and its honest handlers never run.
    const fromNoisy = await honest.forward('noisy', input(4), opts('a'));
    expect(fromNoisy.shape).toEqual([4, 6]);
    expect(fromNoisy.data.some((v) => v !== 0.25)).toBe(true);
    expect(fromNoisy.data.every((v) => v >= -1 && v <= 1)).toBe(true);
    await honest.backward('noisy', fromNoisy, opts('a'));
    expect(honestHandlerCalls).toBe(0);

    // The noise peer's own calls reach the honest expert as usual.
    expect(noisy.selfId).toBe('noisy');
    expect(noisy.peers()).toEqual(['honest']);
    const fromHonest = await noisy.forward('honest', input(2), opts('b'));
    expect(Array.from(fromHonest.data)).toEqual(new Array(12).fill(0.25));
    expect(honestHandlerCalls).toBe(1);

    // Membership events pass through.
    const joined: string[] = [];
    const off = noisy.on!('peer-connected', (id) => joined.push(id));
    hub.join('late');
    expect(joined).toEqual(['late']);
    off();

    // Stopping serving stops the noise too.
    stopNoisy();
    await expect(honest.forward('noisy', input(1), opts('c'))).rejects.toMatchObject({
      code: expect.any(String),
    });
    stopHonest();
  });
});
