/**
 * The Neighbourhood compliance suite (@peerbench/mesh/neighbourhood-compliance)
 * against the worker-port implementation: every peer is a PortExpertNetwork
 * in a "worker" whose main thread exposes an in-memory hub endpoint with a
 * bounded neighbourhood, over a real MessageChannel. The same rules as on the
 * hub itself and on the WebRTC mesh: symmetric links, at most maxLinks,
 * unlink for both, no re-linking on its own, `link` never rejects.
 */
import { InMemoryHub } from '@peerbench/mesh';
import { describeNeighbourhoodCompliance } from '@peerbench/mesh/neighbourhood-compliance';
import { afterAll } from 'vitest';
import { type ExposedNetwork, exposeExpertNetwork, PortExpertNetwork } from '../src/worker/network-bridge.js';
import { channel, closeChannels } from './message-channels.js';

afterAll(closeChannels);

describeNeighbourhoodCompliance('worker port', () => {
  let hub: InMemoryHub | null = null;
  const ends: Array<{ net: PortExpertNetwork; exposed: ExposedNetwork }> = [];
  return {
    async peers(count, maxLinks) {
      hub = new InMemoryHub({ maxLinks });
      const nets: PortExpertNetwork[] = [];
      for (let i = 0; i < count; i++) {
        const { main, worker } = channel();
        const id = `p${i}`;
        const exposed = exposeExpertNetwork(main, () => hub!.join(id));
        const net = await PortExpertNetwork.connect(worker, id);
        ends.push({ net, exposed });
        nets.push(net);
      }
      return nets;
    },
    async stop() {
      for (const { net, exposed } of ends.splice(0)) {
        net.close();
        exposed.stop();
      }
      for (const id of hub?.ids() ?? []) hub!.leave(id);
    },
  };
});
