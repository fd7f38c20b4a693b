/**
 * Adaptive inflation (section 3, Fig 5).
 *
 * Control law (integral controller with clamping):
 *   τ_{t+1} = clamp(τ_t + gain · (target − sparsity_t), minTau, maxTau)
 *
 * Below the target sparsity (peers too connected, too little competition for
 * self-weight) τ rises, which makes self-weight more profitable; above the
 * target τ falls, which "costs less" to connect with peers (section 3.1).
 * It starts at τ = 0 as in the paper ("Initial inflation is zero and then
 * increases"). An integral law has no steady-state error: it only stops
 * moving when sparsity equals the target (or τ sits at a bound).
 */
export interface AdaptiveTauOptions {
  /** Sparsity the controller drives towards. */
  target: number;
  /** Starting τ (paper: 0). */
  initialTau?: number;
  /** Change of τ per unit of sparsity error per update. Must be > 0. */
  gain: number;
  /** Lower clamp (default 0: inflation never turns into deflation). */
  minTau?: number;
  /** Upper clamp (default +∞). */
  maxTau?: number;
}

export class AdaptiveTauController {
  readonly target: number;
  readonly gain: number;
  readonly minTau: number;
  readonly maxTau: number;
  private currentTau: number;

  constructor(options: AdaptiveTauOptions) {
    const { target, initialTau = 0, gain, minTau = 0, maxTau = Number.POSITIVE_INFINITY } = options;
    if (!Number.isFinite(target)) throw new RangeError(`target must be finite, got ${target}`);
    if (!(gain > 0) || !Number.isFinite(gain)) throw new RangeError(`gain must be > 0, got ${gain}`);
    if (!(minTau <= maxTau)) throw new RangeError(`minTau (${minTau}) must be <= maxTau (${maxTau})`);
    this.target = target;
    this.gain = gain;
    this.minTau = minTau;
    this.maxTau = maxTau;
    this.currentTau = Math.min(maxTau, Math.max(minTau, initialTau));
  }

  /** The τ currently in force. */
  get tau(): number {
    return this.currentTau;
  }

  /** Feed the sparsity measured this step; returns the τ for the next step. */
  update(sparsity: number): number {
    if (!Number.isFinite(sparsity)) throw new RangeError(`sparsity must be finite, got ${sparsity}`);
    const next = this.currentTau + this.gain * (this.target - sparsity);
    this.currentTau = Math.min(this.maxTau, Math.max(this.minTau, next));
    return this.currentTau;
  }
}
