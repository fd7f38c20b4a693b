/**
 * The Neighbourhood across the network bridge (neighbourhood-bridge.ts),
 * beyond the compliance suite: what each side does with a malformed or
 * missing answer, a network without a neighbourhood, and close. Real
 * MessageChannels; the "main thread" is either exposeExpertNetwork over an
 * in-memory hub or a bare port the test answers by hand.
 */
import { InMemoryHub } from '@peerbench/mesh';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { exposeExpertNetwork, PortExpertNetwork } from '../src/worker/network-bridge.js';
import { listen, type MessagePortLike } from '../src/worker/port.js';
import { channel, closeChannels } from './message-channels.js';

afterEach(closeChannels);

/** A main thread the test plays by hand: answers `open` with `opened`, records the rest. */
function handMain(main: MessagePortLike, opened: Record<string, unknown>) {
  const got: Array<{ t: string; id?: number; peerId?: string }> = [];
  listen(main, (data) => {
    const m = data as { t: string };
    if (m.t === 'open') main.postMessage({ t: 'opened', peers: [], ...opened }, []);
    else got.push(m);
  });
  return got;
}

const self = 'a'.repeat(8);

describe('neighbourhood over the network bridge', () => {
  it('is absent when the main thread’s network links with everyone', async () => {
    const hub = new InMemoryHub();
    const { main, worker } = channel();
    const exposed = exposeExpertNetwork(main, () => hub.join('p0'));
    const net = await PortExpertNetwork.connect(worker, 'p0');
    expect(net.neighbourhood).toBeUndefined();
    net.close();
    exposed.stop();
  });

  it('carries maxLinks and the members (self left out), and keeps them fresh after each answer', async () => {
    const { main, worker } = channel();
    const got = handMain(main, { neighbourhood: { maxLinks: 3, peerIds: ['b', self], roomSize: 3 } });
    const net = await PortExpertNetwork.connect(worker, self);
    const nb = net.neighbourhood!;
    expect(nb.maxLinks).toBe(3);
    expect(nb.candidates()).toEqual({ peerIds: ['b'], roomSize: 3 });
    const sample = nb.refreshCandidates();
    await vi.waitFor(() => expect(got.map((m) => m.t)).toEqual(['sample']));
    main.postMessage({ t: 'candidates', id: got[0]!.id, peerIds: ['b', 'c', self], roomSize: 4 }, []);
    expect(await sample).toEqual({ peerIds: ['b', 'c'], roomSize: 4 });
    // News without a call (id null) replaces what candidates() reads.
    main.postMessage({ t: 'candidates', id: null, peerIds: ['d'], roomSize: 2 }, []);
    await vi.waitFor(() => expect(nb.candidates()).toEqual({ peerIds: ['d'], roomSize: 2 }));
    net.close();
  });

  it('drops malformed answers (counted) and a link still settles: by its answer, or false at close', async () => {
    const { main, worker } = channel();
    const got = handMain(main, { neighbourhood: { maxLinks: 2, peerIds: ['b'], roomSize: 2 } });
    const invalid: string[] = [];
    const net = await PortExpertNetwork.connect(worker, self, { onInvalid: (r) => invalid.push(r) });
    const nb = net.neighbourhood!;
    const first = nb.link('b');
    const second = nb.link('c');
    await vi.waitFor(() => expect(got.filter((m) => m.t === 'link').length).toBe(2));
    const [l1, l2] = got.filter((m) => m.t === 'link');
    expect(l1).toMatchObject({ peerId: 'b' });
    // Not a boolean, an id far too long, an unknown kind: dropped, nothing else changes.
    main.postMessage({ t: 'linked', id: l1!.id, ok: 'yes' }, []);
    main.postMessage({ t: 'candidates', id: null, peerIds: ['x'.repeat(300)], roomSize: 1 }, []);
    main.postMessage({ t: 'candidates', id: null, peerIds: ['b'], roomSize: -1 }, []);
    main.postMessage({ t: 'linked', id: l1!.id, ok: true }, []);
    expect(await first).toBe(true);
    expect(net.dropped).toBe(3);
    expect(invalid).toHaveLength(3);
    expect(nb.candidates()).toEqual({ peerIds: ['b'], roomSize: 2 });
    expect(l2).toMatchObject({ peerId: 'c' });
    // The second is never answered: close settles it with false (never a rejection).
    net.close();
    expect(await second).toBe(false);
    // After close a link is refused at once and nothing is posted.
    expect(await nb.link('b')).toBe(false);
    nb.unlink('b');
    // Messages arrive in order: the bridge's own 'close' is the last thing the main thread hears.
    await vi.waitFor(() => expect(got.at(-1)?.t).toBe('close'));
    expect(got.map((m) => m.t)).toEqual(['link', 'link', 'close']);
  });

  it('the main side refuses a link when its network has no neighbourhood, and drops a malformed request', async () => {
    const hub = new InMemoryHub();
    const { main, worker } = channel();
    const invalid: string[] = [];
    const exposed = exposeExpertNetwork(main, () => hub.join('p0'), { onInvalid: (r) => invalid.push(r) });
    const answers: unknown[] = [];
    listen(worker, (d) => answers.push(d));
    worker.postMessage({ t: 'open' }, []);
    await vi.waitFor(() => expect(answers).toContainEqual({ t: 'opened', peers: [] }));
    worker.postMessage({ t: 'link', id: 7, peerId: '' }, []);
    worker.postMessage({ t: 'link', id: 8, peerId: 'p1' }, []);
    worker.postMessage({ t: 'sample', id: 9 }, []);
    await vi.waitFor(() => {
      expect(answers).toContainEqual({ t: 'linked', id: 8, ok: false });
      expect(answers).toContainEqual({ t: 'candidates', id: 9, peerIds: [], roomSize: null });
    });
    expect(answers.some((a) => (a as { id?: number }).id === 7)).toBe(false);
    expect(exposed.dropped).toBe(1);
    expect(invalid).toHaveLength(1);
    exposed.stop();
  });
});
