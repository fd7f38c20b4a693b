/** @peerbench/netlab: dev-only. Nothing in the browser bundle imports it. */

/**
 * The selected-pair types live in @peerbench/mesh (the mesh reports each
 * link's type with them); re-exported for lab code. Their functions
 * (`selectedPairFromStats`, `connectionTypeOf`, `isTurnAuthError`) are
 * imported from @peerbench/mesh.
 */
export type { CandidateSummary, CandidateType, ConnectionType, SelectedPair } from '@peerbench/mesh';
export type { AgentConfig, AgentIceServer, AgentSignal, FromAgent, ToAgent } from './agent-protocol.js';
export {
  COTURN_START_TIMEOUT_MS,
  COTURN_STOP_GRACE_MS,
  type Coturn,
  type CoturnOptions,
  coturnUnavailableReason,
  DEFAULT_TURN_PORT,
  PRIVATE_PEER_RANGES,
  startCoturn,
} from './coturn.js';
export { NetlabError, type NetlabErrorCode } from './errors.js';
export { IPC_AGENT_START_TIMEOUT_MS, IPC_AGENT_STOP_GRACE_MS, IpcAgent } from './ipc-agent.js';
export {
  DEFAULT_LAB_PREFIX,
  Lab,
  type LabOptions,
  labToolsMissingReason,
  labUnavailableReason,
  Namespace,
  sweepLeftovers,
} from './lab.js';
export { LAB_SERVER_START_TIMEOUT_MS, LabServer, type LabServerOptions } from './lab-server.js';
export type * from './mesh-agent-protocol.js';
export { LabSignaling, MeshPeer } from './mesh-peer.js';
export {
  countedPackets,
  deleteTableRuleset,
  LOSS_TABLE,
  lossRuleset,
  NAT_TABLE,
  type NatMode,
  natRouterRuleset,
} from './nft.js';
export { DEFAULT_STOP_GRACE_MS, type ExitStatus, LabProcess, type SpawnOptions } from './process.js';
export { LOSS_SMOOTHING_STEPS, soakSvg } from './soak-plot.js';
export {
  evaluateSoak,
  LINK_BACK_WITHIN_MS,
  SHORT_PEER_ID_CHARS,
  type SoakChainRow,
  type SoakFindings,
  type SoakPeerResult,
  soakSummary,
  TENSOR_WARMUP_SHARE,
  type TensorTrace,
  type TrainingSoakResult,
  withShortPeerIds,
} from './soak-report.js';
export {
  buildNatTopology,
  type Home,
  type HomeSpec,
  MAX_HOMES,
  type NatTopology,
  PUBLIC_IP,
  PUBLIC_SUBNET,
  type Shaping,
} from './topology.js';
export type { FromTrainAgent, StepRecord, ToTrainAgent, TrainAgentStart } from './train-agent-protocol.js';
export { TRAIN_AGENT_START_TIMEOUT_MS, TrainPeer } from './train-peer.js';
export {
  DEFAULT_TRAINING_SOAK,
  MESH_READY_TIMEOUT_MS,
  runTrainingSoak,
  type TrainingSoakOptions,
  type TrainingSoakRun,
} from './training-soak.js';
export { AGENT_START_TIMEOUT_MS, pipeSignals, WrtcPeer } from './wrtc-peer.js';
