/**
 * The training soak as one SVG (packages/mechanism's writer): each peer's
 * training loss over time (moving mean), and its stand-in answers per step,
 * with the outage shaded.
 */
import { dataRange, element, PALETTE, Panel, svgDocument } from '@peerbench/mechanism/svg';
import type { TrainingSoakResult } from './soak-report.js';

/** Steps in the moving mean of the loss curve. */
export const LOSS_SMOOTHING_STEPS = 25;

function movingMean(values: readonly number[], window: number): number[] {
  const out: number[] = [];
  let sum = 0;
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Number.isFinite(v)) {
      sum += v;
      n++;
    }
    const old = i >= window ? values[i - window]! : Number.NaN;
    if (Number.isFinite(old)) {
      sum -= old;
      n--;
    }
    out.push(n > 0 ? sum / n : Number.NaN);
  }
  return out;
}

function shadeOutage(panel: Panel, r: TrainingSoakResult, y0: number, y1: number): void {
  if (!r.outage) return;
  const x0 = panel.px((r.outage.startMs - r.runStartMs) / 1000);
  const x1 = panel.px((r.outage.endMs - r.runStartMs) / 1000);
  const top = Math.min(panel.py(y0), panel.py(y1));
  panel.parts.push(
    element('rect', {
      x: x0,
      y: top,
      width: x1 - x0,
      height: Math.abs(panel.py(y0) - panel.py(y1)),
      fill: '#d62728',
      'fill-opacity': 0.12,
    }),
  );
}

export function soakSvg(r: TrainingSoakResult, title: string): string {
  const W = 900;
  const H = 330;
  const secs = (ms: number) => (ms - r.runStartMs) / 1000;
  const xRange = { min: 0, max: (r.runEndMs - r.runStartMs) / 1000 };
  const curves = r.peers.map((p) => ({
    xs: p.steps.map((s) => secs(s.endMs)),
    loss: movingMean(
      p.steps.map((s) => s.loss),
      LOSS_SMOOTHING_STEPS,
    ),
    standIns: p.steps.map((s) => s.standIns.length),
  }));
  const lossRange = dataRange(curves.flatMap((c) => c.loss.filter(Number.isFinite)));
  const lossPanel = new Panel({
    x: 0,
    y: 0,
    width: W,
    height: H,
    xRange,
    yRange: { min: Math.max(0, lossRange.min), max: lossRange.max },
    title,
    subtitle: `training loss (mean of ${LOSS_SMOOTHING_STEPS} steps); ${r.outage ? `shaded: home ${r.outage.home} cut off` : 'no outage'}`,
    xLabel: 'time since training started (s)',
    yLabel: 'loss',
  });
  shadeOutage(lossPanel, r, Math.max(0, lossRange.min), lossRange.max);
  const maxStandIns = Math.max(1, ...curves.flatMap((c) => c.standIns));
  const standInPanel = new Panel({
    x: 0,
    y: H,
    width: W,
    height: H * 0.8,
    xRange,
    yRange: { min: -0.2, max: maxStandIns + 0.2 },
    title: 'stand-in answers per step',
    subtitle: 'slots served by a distilled stand-in instead of the peer (0 outside the outage is the target)',
    xLabel: 'time since training started (s)',
    yLabel: 'stand-ins',
  });
  shadeOutage(standInPanel, r, -0.2, maxStandIns + 0.2);
  curves.forEach((c, i) => {
    const color = PALETTE[i % PALETTE.length]!;
    lossPanel.polyline(c.xs, c.loss, color);
    // Offset a little per peer so equal counts stay visible side by side.
    standInPanel.polyline(
      c.xs,
      c.standIns.map((n) => n + (i - (curves.length - 1) / 2) * 0.06),
      color,
      { 'stroke-width': 1.2 },
    );
  });
  lossPanel.legend(
    r.peers.map((p, i) => ({
      label: `peer ${i + 1}${p.peerId === r.outage?.peerId ? ' (cut off)' : ''}`,
      color: PALETTE[i % PALETTE.length]!,
    })),
  );
  return svgDocument(W, H * 1.8, [...lossPanel.parts, ...standInPanel.parts]);
}
