/**
 * Which participants may talk to each other: a per-pair allow list over any
 * ExpertNetwork (the in-memory hub links everyone with everyone). A forbidden
 * peer is not in `peers()`, a call to it fails as if it had left
 * ('peer-gone'), and its calls are refused ('rejected'), so the Peer's
 * gate never gives it a slot. Used by the chain experiment (A – B – C with A
 * and C never linked: does knowledge travel through B?).
 */
import { ExpertError, type ExpertNetwork } from '@peerbench/mesh';

/** An undirected set of allowed links. */
export class AllowedPairs {
  private readonly links = new Map<string, Set<string>>();

  constructor(pairs: ReadonlyArray<readonly [string, string]>) {
    for (const [a, b] of pairs) {
      if (a === b) throw new RangeError(`a link needs two peers, got ${a} twice`);
      this.add(a, b);
      this.add(b, a);
    }
  }

  private add(a: string, b: string): void {
    const set = this.links.get(a) ?? new Set<string>();
    set.add(b);
    this.links.set(a, set);
  }

  allows(a: string, b: string): boolean {
    return this.links.get(a)?.has(b) ?? false;
  }
}

/** `net` seen through `pairs`: only the peers `net.selfId` is allowed to link with exist. */
export function restrictedNetwork(net: ExpertNetwork, pairs: AllowedPairs): ExpertNetwork {
  const self = net.selfId;
  const allowed = (peerId: string) => pairs.allows(self, peerId);
  const gone = (peerId: string) => new ExpertError('peer-gone', `${self} is not linked to ${peerId}`);
  const refused = (peerId: string) => new ExpertError('rejected', `${self} does not serve ${peerId}`);
  const restricted: ExpertNetwork = {
    selfId: self,
    peers: () => net.peers().filter(allowed),
    forward: (peerId, x, opts) =>
      allowed(peerId) ? net.forward(peerId, x, opts) : Promise.reject(gone(peerId)),
    backward: (peerId, grad, opts) =>
      allowed(peerId) ? net.backward(peerId, grad, opts) : Promise.reject(gone(peerId)),
    serve: (handlers) =>
      net.serve({
        forward: (from, requestId, x, signal) =>
          allowed(from) ? handlers.forward(from, requestId, x, signal) : Promise.reject(refused(from)),
        backward: (from, requestId, grad, signal) =>
          allowed(from) ? handlers.backward(from, requestId, grad, signal) : Promise.reject(refused(from)),
      }),
  };
  const { ping, on } = net;
  if (ping)
    restricted.ping = (peerId) => (allowed(peerId) ? ping.call(net, peerId) : Promise.reject(gone(peerId)));
  if (on)
    restricted.on = (event, cb) =>
      on.call(net, event, (peerId) => (allowed(peerId) ? cb(peerId) : undefined));
  return restricted;
}
