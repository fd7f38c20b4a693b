/**
 * The swarm's three plots (B over steps, per-peer rank over blocks, final W)
 * drawn with packages/mechanism's SVG writer (`@peerbench/mechanism/svg`:
 * panels, ticks, escaping, palette), so both figure sets look alike and the
 * writer exists once.
 */
import { dataRange, element, PALETTE, Panel, svgDocument, text } from '@peerbench/mechanism/svg';

export interface Series {
  name: string;
  points: [number, number][];
  dashed?: boolean;
}

const CHART_WIDTH_PX = 720;
const CHART_HEIGHT_PX = 420;
/** Room right of the plot for the legend (a swarm can have 16+ series: inside the plot it would hide them). */
const LEGEND_WIDTH_PX = 150;
const LEGEND_ROW_PX = 16;

export function lineChart(opts: { title: string; xLabel: string; yLabel: string; series: Series[] }): string {
  const finite = opts.series.map((s) =>
    s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)),
  );
  const xs = finite.flatMap((pts) => pts.map((p) => p[0]));
  const ys = finite.flatMap((pts) => pts.map((p) => p[1]));
  const panel = new Panel({
    x: 0,
    y: 0,
    width: CHART_WIDTH_PX - LEGEND_WIDTH_PX,
    height: CHART_HEIGHT_PX,
    xRange: dataRange(xs, 0),
    yRange: dataRange(ys),
    title: opts.title,
    xLabel: opts.xLabel,
    yLabel: opts.yLabel,
  });
  const legend: string[] = [];
  opts.series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length]!;
    const dash = s.dashed ? { 'stroke-dasharray': '5 3' } : {};
    const pts = finite[i]!;
    panel.polyline(
      pts.map((p) => p[0]),
      pts.map((p) => p[1]),
      color,
      { 'stroke-width': 1.6, ...dash },
    );
    const x = CHART_WIDTH_PX - LEGEND_WIDTH_PX + 10;
    const y = 50 + i * LEGEND_ROW_PX;
    legend.push(
      element('line', { x1: x, y1: y - 4, x2: x + 20, y2: y - 4, stroke: color, 'stroke-width': 2, ...dash }),
    );
    legend.push(text(x + 24, y, s.name, { 'font-size': 12 }));
  });
  return svgDocument(CHART_WIDTH_PX, CHART_HEIGHT_PX, [panel.svg(), ...legend]);
}

/** Heatmap of a matrix with values in [0, max] (white → dark blue); row/column labels given. */
export function heatmap(opts: { title: string; matrix: number[][]; labels: string[] }): string {
  const n = opts.matrix.length;
  const cell = Math.max(14, Math.min(48, Math.floor(480 / Math.max(1, n))));
  const left = 70;
  const top = 60;
  const width = left + cell * n + 90;
  const height = top + cell * n + 30;
  let max = 0;
  for (const row of opts.matrix) for (const v of row) if (Number.isFinite(v)) max = Math.max(max, v);
  if (max === 0) max = 1;
  const body: string[] = [
    text(width / 2, 20, opts.title, { 'text-anchor': 'middle', 'font-size': 14 }),
    text(left + (cell * n) / 2, 40, 'column j (scored)', { 'text-anchor': 'middle', 'font-size': 11 }),
  ];
  opts.matrix.forEach((row, i) => {
    body.push(
      text(left - 6, top + i * cell + cell / 2 + 4, opts.labels[i] ?? `${i}`, {
        'text-anchor': 'end',
        'font-size': 11,
      }),
    );
    row.forEach((v, j) => {
      const t = Number.isFinite(v) ? Math.max(0, Math.min(1, v / max)) : 0;
      const c = (a: number, b: number) => Math.round(a + (b - a) * t);
      body.push(
        element(
          'rect',
          {
            x: left + j * cell,
            y: top + i * cell,
            width: cell,
            height: cell,
            fill: `rgb(${c(255, 8)},${c(255, 48)},${c(255, 107)})`,
          },
          `<title>w[${i}][${j}] = ${Number.isFinite(v) ? v.toFixed(4) : 'n/a'}</title>`,
        ),
      );
      if (cell >= 30)
        body.push(
          text(left + j * cell + cell / 2, top + i * cell + cell / 2 + 4, v.toFixed(2), {
            'text-anchor': 'middle',
            'font-size': 9,
            fill: t > 0.5 ? 'white' : 'black',
          }),
        );
    });
  });
  opts.labels.forEach((label, j) => {
    body.push(text(left + j * cell + cell / 2, top - 6, label, { 'text-anchor': 'middle', 'font-size': 11 }));
  });
  body.push(text(left + cell * n + 10, top + 10, `max ${max.toFixed(3)}`, { 'font-size': 11 }));
  return svgDocument(width, height, body);
}
