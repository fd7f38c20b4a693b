/**
 * The observable state of one peer: what the web app's store renders and what
 * the swarm CLI records. The runtime (Peer) owns it and publishes immutable
 * snapshots; readers never mutate it.
 */

export type BackendName = 'webgpu' | 'webgl' | 'wasm' | 'cpu';

export interface BackendAttempt {
  backend: BackendName;
  ok: boolean;
  /** Why it was not used (not available, failed to initialise, skipped because forced). */
  reason?: string;
  /** What the start-up trial measured on it (backend-trial.ts), when one ran. */
  trial?: BackendTrialTimes;
}

/** One backend's trial: the first step (kernel compilation included), then the median of the timed ones. */
export interface BackendTrialTimes {
  firstStepMs: number;
  /** Median wall time of the timed steps, in ms; what the choice compares. */
  stepMs: number;
  /** Timed steps run (after the first). */
  steps: number;
}

export interface BackendReport {
  chosen: BackendName;
  /** True when the user forced this backend (`?backend=` or a CLI flag). */
  forced: boolean;
  attempts: BackendAttempt[];
  /**
   * How it was chosen: 'forced', 'order' (the first that initialises in
   * WebGPU → WebGL → WASM → CPU), or 'trial' (the fastest measured step).
   * Absent in reports from before the trial existed: 'order'.
   */
  basis?: 'forced' | 'order' | 'trial';
}

export type PeerStatus = 'stopped' | 'starting' | 'running' | 'paused' | 'stopping' | 'error';

/** The connection to the signaling server (WebRTC links are per peer, in PeerRow). */
export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'closed';

export interface PeerError {
  /** Stable code, e.g. 'server-unreachable', 'webrtc-blocked', 'backend-fallback'. */
  code: string;
  message: string;
}

/** One remote (or the local) peer as this peer sees it. */
export interface PeerRow {
  peerId: string;
  /** Ledger uid once registered, else null. */
  uid: number | null;
  /** True while a WebRTC data channel to it is open (always true for self). */
  online: boolean;
  isSelf: boolean;
  /** Last measured round-trip time over the data channel. */
  latencyMs: number | null;
  /** EMA of this peer's gate importance in our SGMoE gate (sums to 1 over rows). */
  gateWeight: number;
  /** Our current score w_ij for it (our row of W, on the simplex). */
  weight: number;
  /** From the latest block. */
  stake: number;
  rank: number;
}

export interface StepPoint {
  step: number;
  timeMs: number;
  loss: number;
  /** Accuracy on the held-out set with the live network, when it was evaluated at this step. */
  accuracy?: number;
  /** The same with the network cut off (the student of G for every remote slot), at the same step. */
  offlineAccuracy?: number;
  /** Loss and accuracy on the validation slice of D_i (never trained on), when it was scored at this step. */
  validationLoss?: number;
  validationAccuracy?: number;
}

export interface BlockPoint {
  height: number;
  timeMs: number;
  stake: number;
  rank: number;
  tau: number;
}

/** The network as of the latest verified block. */
export interface NetworkView {
  height: number;
  tau: number;
  /** Index = uid. */
  peers: { uid: number; peerId: string; stake: number; rank: number }[];
  /** Sparse W: rows[uid] lists (column uid, weight) pairs. */
  weights: Array<Array<[number, number]>>;
  /** Whether w_ii counts in R on this ledger (false: your own row earns you nothing). Absent: it does. */
  selfWeightsInRank?: boolean;
}

/** Counters of the learning runtime (all since start). */
export interface PeerStats {
  /** Forward requests this peer sent to experts. */
  forwardRequested: number;
  /** Answers used as they came. */
  answersAccepted: number;
  /** Answers ignored because of NaN/Inf or a wrong shape. */
  answersInvalid: number;
  /** Answers that missed k_min + grace (or the timeout). */
  answersLate: number;
  /** Requests that failed (peer gone, refused, transport error). */
  answersFailed: number;
  /** Expert contributions served by a distilled stand-in. */
  standInUsed: number;
  /** Forward requests this peer answered as an expert, and remote gradients applied/refused. */
  forwardsServed: number;
  remoteGradientsApplied: number;
  remoteGradientsRefused: number;
  /** Set-weights txs accepted into the ledger's pool / refused. */
  weightTxsSubmitted: number;
  weightTxsFailed: number;
  /** Forward payload bytes per step (inputs + answers), averaged since start. */
  forwardBytesPerStep: number;
  /** Wall time of the last training step. */
  lastStepMs: number | null;
  /** tf.memory().numTensors after the latest step (flat while training: nothing leaks). */
  numTensors?: number;
}

export interface PeerSnapshot {
  peerId: string;
  uid: number | null;
  room: string;
  status: PeerStatus;
  connection: ConnectionState;
  /** The latest error worth showing to a person, cleared when it no longer holds. */
  error: PeerError | null;
  backend: BackendReport | null;
  step: number;
  loss: number | null;
  /** Held-out accuracy with the live network (`evaluateLive`), every `evalEverySteps`. */
  accuracy: number | null;
  /**
   * Held-out accuracy with the network cut off, from the distilled inputs
   * only (`Trainer.evaluate`, §1.8), measured beside `accuracy`. Absent
   * before the first evaluation.
   */
  offlineAccuracy?: number;
  /** The latest loss/accuracy on the validation slice of D_i (absent before the first scoring pass). */
  validation?: { step: number; loss: number; accuracy: number };
  /** Bounded history (the runtime keeps the latest few thousand points). */
  lossHistory: StepPoint[];
  blockHistory: BlockPoint[];
  peers: PeerRow[];
  network: NetworkView | null;
  /** Runtime counters (absent before the runtime fills them). */
  stats?: PeerStats;
  /** Bounded neighbourhoods (issue 14): present when the peer chooses its links. */
  neighbourhood?: NeighbourhoodView;
}

/** Why a neighbour holds one of this peer's D places (issue 14). */
export type NeighbourReason = 'kept' | 'exploring';

export interface NeighbourEntry {
  peerId: string;
  reason: NeighbourReason;
  /** The block at which it took the place. */
  sinceHeight: number;
  /** This peer's own score for it (its w_ij), null before the first scoring pass. */
  score: number | null;
  /** The ledger's rank of it, null when it has no uid yet. */
  rank: number | null;
}

export interface NeighbourhoodView {
  /** D: most neighbours at once. */
  maxLinks: number;
  /** Members of the room, when known (the server's count), else null. */
  networkSize: number | null;
  neighbours: NeighbourEntry[];
  /** Peers ever tried (linked at least once) since start. */
  triedCount: number;
}

export function initialSnapshot(peerId: string, room: string): PeerSnapshot {
  return {
    peerId,
    uid: null,
    room,
    status: 'stopped',
    connection: 'idle',
    error: null,
    backend: null,
    step: 0,
    loss: null,
    accuracy: null,
    lossHistory: [],
    blockHistory: [],
    peers: [],
    network: null,
  };
}
