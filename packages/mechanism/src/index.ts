export { AdaptiveTauController, type AdaptiveTauOptions } from './adaptive-tau.js';
export { inflate } from './inflation.js';
export { columnShift, competitiveMask, maskValue } from './mask.js';
export { checkSquare, rank } from './rank.js';
export { createRng, type Rng } from './rng.js';
export { boundRowStep, projectToSimplex, rowDistance } from './simplex.js';
export { diagonalToOffDiagonalRatio, sparsity } from './sparsity.js';
export { averageRanks, meanStd, pearson, spearman } from './stats.js';
