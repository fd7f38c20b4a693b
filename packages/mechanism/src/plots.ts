import type { Fig4Result, Fig5Result } from './experiment.js';
import { dataRange, PALETTE, Panel, svgDocument, text } from './svg.js';

/** Figures of section 3 as SVG strings (pure: the CLI writes them). */

const TRIAL_COLORS = PALETTE;

const fmtStat = (mean: number | null, std: number | null): string =>
  mean === null ? 'undefined' : `${mean.toFixed(2)} ± ${(std ?? 0).toFixed(2)}`;

/**
 * Fig 4: one panel per α/τ, R* (eq 4) against the ideal rank (eq 2), every
 * trial's peers as points (one colour per trial) and the line R* = R. Both
 * ranks sum to 1, so the diagonal is where they agree exactly.
 */
export function fig4Svg(result: Fig4Result): string {
  const panels = result.ratios.length;
  const cols = panels <= 2 ? panels : panels <= 4 ? 2 : 3;
  const rows = Math.ceil(panels / cols);
  const pw = 460;
  const ph = 400;
  const headH = 44;
  const width = cols * pw;
  const height = headH + rows * ph;
  const all = result.ratios.flatMap((r) => r.trials);
  // Shared axes across panels so they compare at a glance.
  const xRange = dataRange(all.flatMap((t) => t.ideal));
  const yRange = dataRange([...all.flatMap((t) => t.rStar), xRange.min, xRange.max]);
  const body: string[] = [
    text(
      width / 2,
      26,
      `Fig 4 — competitive rank R* vs ideal rank, n = ${result.n}, ${result.trials} trials, seed ${result.seed}${result.settings.world === 'graded' ? ', graded world' : ''}`,
      {
        'text-anchor': 'middle',
        'font-size': 17,
        'font-weight': 'bold',
      },
    ),
  ];
  result.ratios.forEach((summary, k) => {
    const panel = new Panel({
      x: (k % cols) * pw,
      y: headH + Math.floor(k / cols) * ph,
      width: pw,
      height: ph,
      xRange,
      yRange,
      title: `α/τ = ${summary.alphaOverTau}`,
      subtitle: `Pearson ${fmtStat(summary.pearson.mean, summary.pearson.std)} · Spearman ${fmtStat(summary.spearman.mean, summary.spearman.std)} · W=I in ${Math.round(summary.identityFraction * summary.trials.length)}/${summary.trials.length}`,
      xLabel: 'ideal rank R (eq 2)',
      yLabel: 'competitive rank R* (eq 4)',
    });
    const lo = Math.max(xRange.min, yRange.min);
    const hi = Math.min(xRange.max, yRange.max);
    panel.segment(lo, lo, hi, hi, '#999', { 'stroke-dasharray': '5 4' });
    summary.trials.forEach((t, i) => {
      panel.points(t.ideal, t.rStar, TRIAL_COLORS[i % TRIAL_COLORS.length]!);
    });
    if (summary.identityFraction === 1)
      panel.note(`all trials at W = I: R* = 1/n = ${(1 / result.n).toFixed(4)}`);
    body.push(panel.svg());
  });
  return svgDocument(width, height, body);
}

/**
 * Fig 5: left, the measured sparsity against its target over the steps;
 * right, the adaptive τ.
 */
export function fig5Svg(result: Fig5Result): string {
  const pw = 560;
  const ph = 420;
  const headH = 44;
  const width = 2 * pw;
  const height = headH + ph;
  const steps = result.points.map((p) => p.step);
  const measured = result.points.map((p) => p.measured);
  const taus = result.points.map((p) => p.tau);
  const xRange = { min: 0, max: Math.max(1, steps[steps.length - 1] ?? 1) };
  const measureName = result.measure === 'ratio' ? 'Σdiag(W) / Σoffdiag(W)' : 'Σdiag(W) / ΣW (eq 17)';
  const body: string[] = [
    text(
      width / 2,
      26,
      `Fig 5 — adaptive τ, n = ${result.n}, α = ${result.alpha}, sparsity target ${result.target}, seed ${result.seed}`,
      {
        'text-anchor': 'middle',
        'font-size': 17,
        'font-weight': 'bold',
      },
    ),
  ];
  const left = new Panel({
    x: 0,
    y: headH,
    width: pw,
    height: ph,
    xRange,
    yRange: dataRange([...measured, result.target, 0], 0.05),
    title: 'sparsity vs target',
    subtitle: measureName,
    xLabel: 'gradient step',
    yLabel: 'sparsity',
  });
  left.segment(xRange.min, result.target, xRange.max, result.target, '#d62728', {
    'stroke-dasharray': '6 4',
    'stroke-width': 2,
  });
  left.polyline(steps, measured, '#1f77b4');
  left.legend([
    { label: 'sparsity', color: '#1f77b4' },
    { label: `target ${result.target}`, color: '#d62728', dashed: true },
  ]);
  const right = new Panel({
    x: pw,
    y: headH,
    width: pw,
    height: ph,
    xRange,
    yRange: dataRange([...taus, 0], 0.05),
    title: 'inflation rate τ',
    subtitle: `PI controller: gain ${result.gain}, proportional ${result.proportionalGain}`,
    xLabel: 'gradient step',
    yLabel: 'τ',
  });
  right.polyline(steps, taus, '#2ca02c');
  body.push(left.svg(), right.svg());
  return svgDocument(width, height, body);
}
