/**
 * The ExpertNetwork compliance suite (@peerbench/mesh/compliance) against
 * the worker-port implementation: every peer is a PortExpertNetwork in a
 * "worker" whose main thread exposes an in-memory hub endpoint, over a real
 * MessageChannel (structured cloning and buffer transfer as in a browser).
 */
import { InMemoryHub } from '@peerbench/mesh';
import { describeExpertNetworkCompliance } from '@peerbench/mesh/compliance';
import { afterAll } from 'vitest';
import { exposeExpertNetwork, PortExpertNetwork } from '../src/worker/network-bridge.js';
import { channel, closeChannels } from './message-channels.js';

afterAll(closeChannels);

describeExpertNetworkCompliance('worker port', () => {
  const hub = new InMemoryHub();
  const ends = new Map<string, { net: PortExpertNetwork; stop(): void }>();
  return {
    async join(id) {
      const { main, worker } = channel();
      const exposed = exposeExpertNetwork(main, () => hub.join(id));
      const net = await PortExpertNetwork.connect(worker, id);
      ends.set(id, { net, stop: () => exposed.stop() });
      return net;
    },
    // A round trip through the main thread: the port delivers in order, so a
    // ping sent after serve() is answered after the main thread processed it.
    settle: (net) =>
      (net.ping?.(net.selfId) ?? Promise.resolve()).then(
        () => undefined,
        () => undefined,
      ),
    leave(id) {
      hub.leave(id);
      const end = ends.get(id);
      ends.delete(id);
      end?.net.close();
      end?.stop();
    },
  };
});
