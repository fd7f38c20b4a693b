export { AdaptiveTauController, type AdaptiveTauOptions } from './adaptive-tau.js';
export {
  type BatchLane,
  type BatchLaneResult,
  BatchNashSolver,
  type BatchOptions,
  type BatchWorld,
  STOPPING_NORMS,
  type StoppingNorm,
} from './batch.js';
export {
  createWorld,
  DEFAULT_SETTINGS,
  FIG5_DEFAULT_GAIN,
  FIG5_DEFAULT_PROPORTIONAL_GAIN,
  type Fig4Options,
  type Fig4RatioSummary,
  type Fig4Result,
  type Fig4Trial,
  type Fig5Options,
  type Fig5Point,
  type Fig5Result,
  fig4TrialFromWeights,
  gradeHessians,
  IDENTITY_TOLERANCE,
  isIdentity,
  MEASURE_CAP,
  QUALITY_SPREAD,
  type ReferenceReading,
  referenceMask,
  runFig4,
  runFig4Trial,
  runFig5,
  type SimulationSettings,
  type SparsityMeasure,
  type Stat,
  summarizeFig4,
  type TrialWorld,
  trialSeed,
  WORLD_KINDS,
  type WorldKind,
} from './experiment.js';
export { coupledRank, idealRank, idealWeights } from './ideal-rank.js';
export { inflate } from './inflation.js';
export { columnShift, competitiveMask, maskValue } from './mask.js';
export {
  NASH_DEFAULT_EPSILON,
  NASH_LEARNING_RATE,
  NASH_STEPS_PER_PEER,
  type NashOptions,
  type NashResult,
  NashSolver,
  solveNash,
} from './nash.js';
export {
  type PayoffModel,
  PayoffWorkspace,
  payoff,
  payoffGradient,
  rowLoss,
  rowPayoffGradient,
  validateModel,
} from './payoff.js';
export { randomPsdHessians, randomSimplexMatrix } from './random.js';
export { checkSquare, rank } from './rank.js';
export { createRng, type Rng } from './rng.js';
export {
  boundRowStep,
  projectFromSupport,
  projectToSimplex,
  projectToSimplexPivot,
  rowDistance,
} from './simplex.js';
export { diagonalToOffDiagonalRatio, sparsity } from './sparsity.js';
export { averageRanks, meanStd, pearson, spearman } from './stats.js';
// The parallel sweep (`runFig4Sweep`) uses node:worker_threads, so it is not
// exported here (browser bundles import this file): use '@peerbench/mechanism/sweep'.
