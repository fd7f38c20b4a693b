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
import type { MessagePortLike } from '../src/worker/port.js';

const channels: MessageChannel[] = [];
afterAll(() => {
  for (const ch of channels.splice(0)) {
    ch.port1.close();
    ch.port2.close();
  }
});

describeNeighbourhoodCompliance('worker port', () => {
  let hub: InMemoryHub | null = null;
  const ends: Array<{ net: PortExpertNetwork; exposed: ExposedNetwork }> = [];
  return {
    async peers(count, maxLinks) {
      hub = new InMemoryHub({ maxLinks });
      const nets: PortExpertNetwork[] = [];
      for (let i = 0; i < count; i++) {
        const ch = new MessageChannel();
        channels.push(ch);
        const id = `p${i}`;
        const exposed = exposeExpertNetwork(ch.port1 as unknown as MessagePortLike, () => hub!.join(id));
        const net = await PortExpertNetwork.connect(ch.port2 as unknown as MessagePortLike, id);
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
