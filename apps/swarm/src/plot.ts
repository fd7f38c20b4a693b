/**
 * Small dependency-free SVG writers for the swarm's three plots: line charts
 * (B over steps, per-peer rank over blocks) and a heatmap (final W).
 */

export interface Series {
  name: string;
  points: [number, number][];
  dashed?: boolean;
}

const PALETTE = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#bcbd22',
  '#17becf',
];

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function niceTicks(lo: number, hi: number, count: number): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step)
    ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

const fmt = (v: number): string =>
  Math.abs(v) >= 1000 || (v !== 0 && Math.abs(v) < 0.01) ? v.toExponential(1) : `${Number(v.toPrecision(3))}`;

export function lineChart(opts: { title: string; xLabel: string; yLabel: string; series: Series[] }): string {
  const W = 720;
  const H = 420;
  const m = { l: 64, r: 150, t: 36, b: 48 };
  const pts = opts.series
    .flatMap((s) => s.points)
    .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  let [x0, x1, y0, y1] = [0, 1, 0, 1];
  if (pts.length > 0) {
    x0 = Math.min(...pts.map((p) => p[0]));
    x1 = Math.max(...pts.map((p) => p[0]));
    y0 = Math.min(...pts.map((p) => p[1]));
    y1 = Math.max(...pts.map((p) => p[1]));
  }
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) {
    y0 -= 0.5;
    y1 += 0.5;
  }
  const pad = (y1 - y0) * 0.05;
  y0 -= pad;
  y1 += pad;
  const sx = (x: number) => m.l + ((x - x0) / (x1 - x0)) * (W - m.l - m.r);
  const sy = (y: number) => H - m.b - ((y - y0) / (y1 - y0)) * (H - m.t - m.b);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2 - m.r / 2}" y="20" text-anchor="middle" font-size="14">${esc(opts.title)}</text>`,
  ];
  for (const t of niceTicks(x0, x1, 6)) {
    out.push(`<line x1="${sx(t)}" y1="${m.t}" x2="${sx(t)}" y2="${H - m.b}" stroke="#eee"/>`);
    out.push(`<text x="${sx(t)}" y="${H - m.b + 16}" text-anchor="middle">${fmt(t)}</text>`);
  }
  for (const t of niceTicks(y0, y1, 6)) {
    out.push(`<line x1="${m.l}" y1="${sy(t)}" x2="${W - m.r}" y2="${sy(t)}" stroke="#eee"/>`);
    out.push(`<text x="${m.l - 6}" y="${sy(t) + 4}" text-anchor="end">${fmt(t)}</text>`);
  }
  out.push(
    `<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" fill="none" stroke="#333"/>`,
  );
  out.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 10}" text-anchor="middle">${esc(opts.xLabel)}</text>`);
  out.push(
    `<text x="16" y="${(m.t + H - m.b) / 2}" text-anchor="middle" transform="rotate(-90 16 ${(m.t + H - m.b) / 2})">${esc(opts.yLabel)}</text>`,
  );
  opts.series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length]!;
    const good = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    if (good.length > 0) {
      const d = good
        .map(([x, y], q) => `${q === 0 ? 'M' : 'L'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`)
        .join('');
      out.push(
        `<path d="${d}" fill="none" stroke="${color}" stroke-width="1.6"${s.dashed ? ' stroke-dasharray="5,3"' : ''}/>`,
      );
    }
    const ly = m.t + 14 + i * 16;
    out.push(
      `<line x1="${W - m.r + 10}" y1="${ly - 4}" x2="${W - m.r + 30}" y2="${ly - 4}" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5,3"' : ''}/>`,
    );
    out.push(`<text x="${W - m.r + 34}" y="${ly}">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

/** Heatmap of a matrix with values in [0, max]; row/column labels given. */
export function heatmap(opts: { title: string; matrix: number[][]; labels: string[] }): string {
  const n = opts.matrix.length;
  const cell = Math.max(14, Math.min(48, Math.floor(480 / Math.max(1, n))));
  const m = { l: 70, t: 60 };
  const W = m.l + cell * n + 90;
  const H = m.t + cell * n + 30;
  let max = 0;
  for (const row of opts.matrix) for (const v of row) if (Number.isFinite(v)) max = Math.max(max, v);
  if (max === 0) max = 1;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${esc(opts.title)}</text>`,
    `<text x="${m.l + (cell * n) / 2}" y="40" text-anchor="middle">column j (scored)</text>`,
  ];
  opts.matrix.forEach((row, i) => {
    out.push(
      `<text x="${m.l - 6}" y="${m.t + i * cell + cell / 2 + 4}" text-anchor="end">${esc(opts.labels[i] ?? `${i}`)}</text>`,
    );
    row.forEach((v, j) => {
      const t = Number.isFinite(v) ? Math.max(0, Math.min(1, v / max)) : 0;
      // white → dark blue
      const c = (a: number, b: number) => Math.round(a + (b - a) * t);
      out.push(
        `<rect x="${m.l + j * cell}" y="${m.t + i * cell}" width="${cell}" height="${cell}" fill="rgb(${c(255, 8)},${c(255, 48)},${c(255, 107)})"><title>w[${i}][${j}] = ${Number.isFinite(v) ? v.toFixed(4) : 'n/a'}</title></rect>`,
      );
      if (cell >= 30)
        out.push(
          `<text x="${m.l + j * cell + cell / 2}" y="${m.t + i * cell + cell / 2 + 4}" text-anchor="middle" font-size="9" fill="${t > 0.5 ? 'white' : 'black'}">${v.toFixed(2)}</text>`,
        );
    });
  });
  opts.labels.forEach((l, j) => {
    out.push(`<text x="${m.l + j * cell + cell / 2}" y="${m.t - 6}" text-anchor="middle">${esc(l)}</text>`);
  });
  out.push(`<text x="${m.l + cell * n + 10}" y="${m.t + 10}">max ${max.toFixed(3)}</text>`);
  out.push('</svg>');
  return out.join('\n');
}
