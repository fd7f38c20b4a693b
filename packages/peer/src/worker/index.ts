/**
 * Running the Peer in a worker while the network stays on the main thread
 * (RTCPeerConnection does not exist in workers). Three bridges, one
 * MessagePort each: the expert network, the ledger transport, and the
 * peer's control and snapshots. Generic: any ExpertNetwork, LedgerTransport
 * and Peer-like object; tested in Node with real MessageChannels.
 */

// The main thread's side needs these without the rest of the package (which
// loads tfjs): the mesh adapter it exposes to the worker, and the initial
// snapshot a RemotePeer starts from.
export { MeshExpertNetwork } from '../mesh-network.js';
export { ExpertError, type ExpertNetwork } from '../network.js';
export { initialSnapshot, type PeerSnapshot } from '../state.js';
export * from './ledger-bridge.js';
export * from './network-bridge.js';
export * from './peer-bridge.js';
export * from './port.js';
