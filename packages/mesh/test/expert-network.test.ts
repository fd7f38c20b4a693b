/**
 * The ExpertNetwork compliance suite (expert-network-compliance.ts) against
 * the in-memory network and the mesh adapter over a structural fake of the
 * mesh; then what only the mesh adapter does.
 */
import { describe, expect, it } from 'vitest';
import { InMemoryHub } from '../src/in-memory-network.js';
import { MeshExpertNetwork } from '../src/mesh-network.js';
import { describeExpertNetworkCompliance, doubling, x } from './expert-network-compliance.js';
import { FakeMeshHub } from './fake-mesh.js';

describeExpertNetworkCompliance('in-memory', () => {
  const hub = new InMemoryHub();
  return { join: (id) => hub.join(id), leave: (id) => hub.leave(id) };
});

describeExpertNetworkCompliance('mesh adapter', () => {
  const hub = new FakeMeshHub();
  return { join: (id) => new MeshExpertNetwork(hub.join(id), id), leave: (id) => hub.leave(id) };
});

describe('MeshExpertNetwork serving side', () => {
  it('rejects requests without a valid request id as invalid, before the model sees them', async () => {
    const hub = new FakeMeshHub();
    const raw = hub.join('raw');
    const log: string[] = [];
    new MeshExpertNetwork(hub.join('b'), 'b').serve(doubling(log));
    await expect(raw.request('b', 'expert.forward', [x], { meta: {} })).rejects.toMatchObject({
      code: 'invalid',
    });
    await expect(
      raw.request('b', 'expert.forward', [x], { meta: { rid: 'x'.repeat(65) } }),
    ).rejects.toMatchObject({
      code: 'invalid',
    });
    await expect(raw.request('b', 'expert.forward', [x, x], { meta: { rid: 'ok' } })).rejects.toMatchObject({
      code: 'invalid',
    });
    expect(log).toEqual([]);
    const ok = await raw.request('b', 'expert.forward', [x], { meta: { rid: 'ok' } });
    expect(ok).toHaveLength(1);
  });
});
