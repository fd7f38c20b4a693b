/**
 * Adaptive inflation (section 3, Fig 5).
 *
 * Control law (PI controller with clamping and anti-windup):
 *   e_t     = target − sparsity_t
 *   I_{t+1} = clamp(I_t + gain · e_t, minTau, maxTau)          (integral part)
 *   τ_{t+1} = clamp(I_{t+1} + proportionalGain · e_t, minTau, maxTau)
 *
 * With proportionalGain = 0 (the default) this is the plain integral law
 * τ_{t+1} = clamp(τ_t + gain · e_t). The weights answer a change of τ only
 * after thousands of gradient steps (a slow lagging plant), so a pure
 * integral law overshoots and rings; the proportional part adds damping.
 * Clamping I itself (not just τ) stops the integral from winding up while τ
 * sits at a bound.
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
  /** Proportional gain (default 0: pure integral control). Must be >= 0. */
  proportionalGain?: number;
  /** Lower clamp (default 0: inflation never turns into deflation). */
  minTau?: number;
  /** Upper clamp (default +∞). */
  maxTau?: number;
}

export class AdaptiveTauController {
  readonly target: number;
  readonly gain: number;
  readonly proportionalGain: number;
  readonly minTau: number;
  readonly maxTau: number;
  private currentTau: number;
  private integral: number;

  constructor(options: AdaptiveTauOptions) {
    const {
      target,
      initialTau = 0,
      gain,
      proportionalGain = 0,
      minTau = 0,
      maxTau = Number.POSITIVE_INFINITY,
    } = options;
    if (!Number.isFinite(target)) throw new RangeError(`target must be finite, got ${target}`);
    if (!(gain > 0) || !Number.isFinite(gain)) throw new RangeError(`gain must be > 0, got ${gain}`);
    if (!(proportionalGain >= 0) || !Number.isFinite(proportionalGain)) {
      throw new RangeError(`proportionalGain must be >= 0, got ${proportionalGain}`);
    }
    if (!(minTau <= maxTau)) throw new RangeError(`minTau (${minTau}) must be <= maxTau (${maxTau})`);
    this.target = target;
    this.gain = gain;
    this.proportionalGain = proportionalGain;
    this.minTau = minTau;
    this.maxTau = maxTau;
    this.currentTau = Math.min(maxTau, Math.max(minTau, initialTau));
    this.integral = this.currentTau;
  }

  /** The τ currently in force. */
  get tau(): number {
    return this.currentTau;
  }

  /** Feed the sparsity measured this step; returns the τ for the next step. */
  update(sparsity: number): number {
    if (!Number.isFinite(sparsity)) throw new RangeError(`sparsity must be finite, got ${sparsity}`);
    const error = this.target - sparsity;
    this.integral = this.clamp(this.integral + this.gain * error);
    this.currentTau = this.clamp(this.integral + this.proportionalGain * error);
    return this.currentTau;
  }

  private clamp(tau: number): number {
    return Math.min(this.maxTau, Math.max(this.minTau, tau));
  }
}
