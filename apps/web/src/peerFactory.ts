import type { PeerFactory } from './runtime.js';

/** Creates the Peer runtime of packages/peer. */
export const createPeer: PeerFactory = async () => {
  throw new Error('the peer runtime has not landed yet');
};
