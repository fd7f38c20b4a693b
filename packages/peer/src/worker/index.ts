/**
 * Running the Peer in a worker while the network stays on the main thread
 * (RTCPeerConnection does not exist in workers). Three bridges, one
 * MessagePort each: the expert network, the ledger transport, and the
 * peer's control and snapshots. Generic: any ExpertNetwork, LedgerTransport
 * and Peer-like object; tested in Node with real MessageChannels.
 */

// The main thread's side needs this without the rest of the package (which
// loads tfjs): the initial snapshot a RemotePeer starts from. The network it
// exposes to the worker comes from @peerbench/mesh.
export { initialSnapshot, type PeerSnapshot } from '../state.js';
export * from './ledger-bridge.js';
export * from './network-bridge.js';
export * from './peer-bridge.js';
export * from './port.js';
