/**
 * A tiny SVG writer for the simulator's figures: no dependency, plain
 * strings. Only what the Fig 4 / Fig 5 plots need: panels with linear axes,
 * ticks, labels, scatter points, polylines and a legend.
 */

/** Ten distinguishable colours (matplotlib's tab10), cycled for series and trials. */
export const PALETTE: readonly string[] = [
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

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const fmt = (v: number): string => (Math.round(v * 100) / 100).toString();

export type Attrs = Record<string, string | number | undefined>;

function attrs(a: Attrs): string {
  return Object.entries(a)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}="${typeof v === 'number' ? fmt(v) : escapeXml(v as string)}"`)
    .join(' ');
}

export function element(name: string, a: Attrs, body?: string): string {
  return body === undefined ? `<${name} ${attrs(a)}/>` : `<${name} ${attrs(a)}>${body}</${name}>`;
}

export function text(x: number, y: number, content: string, a: Attrs = {}): string {
  return element(
    'text',
    { x, y, 'font-family': 'sans-serif', 'font-size': 13, fill: '#222', ...a },
    escapeXml(content),
  );
}

export function svgDocument(width: number, height: number, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    element('rect', { x: 0, y: 0, width, height, fill: '#ffffff' }),
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

/** "Nice" tick values covering [min, max] (1, 2, 5 × 10^k steps). */
export function niceTicks(min: number, max: number, target = 5): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = Math.ceil(min / step - 1e-9) * step; v <= max + step * 1e-9; v += step) {
    ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  }
  return ticks;
}

/** Compact tick label: enough significant digits, no float noise. */
export function tickLabel(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e7 || a < 1e-3) return v.toExponential(1).replace('e+', 'e');
  return Number.parseFloat(v.toPrecision(3)).toString();
}

export interface Range {
  min: number;
  max: number;
}

/** Range of the finite values, padded by `pad` of its width on each side. */
export function dataRange(values: Iterable<number>, pad = 0.05): Range {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (min === Number.POSITIVE_INFINITY) return { min: 0, max: 1 };
  if (min === max) {
    const d = Math.abs(min) > 0 ? Math.abs(min) * 0.1 : 1;
    return { min: min - d, max: max + d };
  }
  const d = (max - min) * pad;
  return { min: min - d, max: max + d };
}

export interface PanelOptions {
  /** Outer box of the panel (axes labels included) in document pixels. */
  x: number;
  y: number;
  width: number;
  height: number;
  xRange: Range;
  yRange: Range;
  title: string;
  subtitle?: string;
  xLabel: string;
  yLabel: string;
}

/** A plot panel: draws the frame, grid, ticks and labels; maps data to pixels. */
export class Panel {
  readonly parts: string[] = [];
  private readonly left: number;
  private readonly top: number;
  private readonly plotW: number;
  private readonly plotH: number;

  constructor(private readonly o: PanelOptions) {
    this.left = o.x + 62;
    this.top = o.y + (o.subtitle ? 48 : 32);
    this.plotW = o.width - 62 - 14;
    this.plotH = o.height - (this.top - o.y) - 46;
    this.drawAxes();
  }

  px(x: number): number {
    const { min, max } = this.o.xRange;
    return this.left + ((x - min) / (max - min)) * this.plotW;
  }

  py(y: number): number {
    const { min, max } = this.o.yRange;
    return this.top + this.plotH - ((y - min) / (max - min)) * this.plotH;
  }

  private inside(x: number, y: number): boolean {
    const { xRange: xr, yRange: yr } = this.o;
    return x >= xr.min && x <= xr.max && y >= yr.min && y <= yr.max;
  }

  private drawAxes(): void {
    const { o, left, top, plotW, plotH } = this;
    const p = this.parts;
    p.push(
      text(o.x + o.width / 2, o.y + 16, o.title, {
        'text-anchor': 'middle',
        'font-size': 15,
        'font-weight': 'bold',
      }),
    );
    if (o.subtitle) {
      p.push(
        text(o.x + o.width / 2, o.y + 34, o.subtitle, {
          'text-anchor': 'middle',
          'font-size': 12,
          fill: '#444',
        }),
      );
    }
    for (const t of niceTicks(o.xRange.min, o.xRange.max)) {
      const x = this.px(t);
      p.push(element('line', { x1: x, y1: top, x2: x, y2: top + plotH, stroke: '#e5e5e5' }));
      p.push(element('line', { x1: x, y1: top + plotH, x2: x, y2: top + plotH + 5, stroke: '#333' }));
      p.push(text(x, top + plotH + 18, tickLabel(t), { 'text-anchor': 'middle', 'font-size': 11 }));
    }
    for (const t of niceTicks(o.yRange.min, o.yRange.max)) {
      const y = this.py(t);
      p.push(element('line', { x1: left, y1: y, x2: left + plotW, y2: y, stroke: '#e5e5e5' }));
      p.push(element('line', { x1: left - 5, y1: y, x2: left, y2: y, stroke: '#333' }));
      p.push(text(left - 8, y + 4, tickLabel(t), { 'text-anchor': 'end', 'font-size': 11 }));
    }
    p.push(element('rect', { x: left, y: top, width: plotW, height: plotH, fill: 'none', stroke: '#333' }));
    p.push(text(left + plotW / 2, top + plotH + 38, o.xLabel, { 'text-anchor': 'middle' }));
    const ly = top + plotH / 2;
    p.push(
      text(o.x + 14, ly, o.yLabel, {
        'text-anchor': 'middle',
        transform: `rotate(-90 ${fmt(o.x + 14)} ${fmt(ly)})`,
      }),
    );
  }

  points(xs: ArrayLike<number>, ys: ArrayLike<number>, color: string, radius = 3): void {
    for (let k = 0; k < xs.length; k++) {
      const x = xs[k]!;
      const y = ys[k]!;
      if (!this.inside(x, y)) continue;
      this.parts.push(
        element('circle', { cx: this.px(x), cy: this.py(y), r: radius, fill: color, 'fill-opacity': 0.65 }),
      );
    }
  }

  polyline(xs: ArrayLike<number>, ys: ArrayLike<number>, color: string, a: Attrs = {}): void {
    const pts: string[] = [];
    for (let k = 0; k < xs.length; k++) {
      const x = xs[k]!;
      const y = ys[k]!;
      if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
      const cy = Math.min(Math.max(y, this.o.yRange.min), this.o.yRange.max);
      pts.push(`${fmt(this.px(x))},${fmt(this.py(cy))}`);
    }
    if (pts.length > 1) {
      this.parts.push(
        element('polyline', { points: pts.join(' '), fill: 'none', stroke: color, 'stroke-width': 2, ...a }),
      );
    }
  }

  /** Straight segment in data coordinates, clipped by the caller's ranges. */
  segment(x1: number, y1: number, x2: number, y2: number, color: string, a: Attrs = {}): void {
    this.parts.push(
      element('line', {
        x1: this.px(x1),
        y1: this.py(y1),
        x2: this.px(x2),
        y2: this.py(y2),
        stroke: color,
        ...a,
      }),
    );
  }

  /** Legend in the top-left corner of the plot area. */
  legend(entries: Array<{ label: string; color: string; dashed?: boolean }>): void {
    const x = this.left + 10;
    let y = this.top + 16;
    const width = 16 + Math.max(...entries.map((e) => e.label.length)) * 6.6 + 24;
    this.parts.push(
      element('rect', {
        x: x - 6,
        y: y - 12,
        width,
        height: entries.length * 18 + 4,
        fill: '#fff',
        'fill-opacity': 0.85,
        stroke: '#ccc',
      }),
    );
    for (const e of entries) {
      this.parts.push(
        element('line', {
          x1: x,
          y1: y - 4,
          x2: x + 18,
          y2: y - 4,
          stroke: e.color,
          'stroke-width': 2,
          'stroke-dasharray': e.dashed ? '5 4' : undefined,
        }),
      );
      this.parts.push(text(x + 24, y, e.label, { 'font-size': 12 }));
      y += 18;
    }
  }

  /** A note in the middle of the plot (e.g. "all W = I"). */
  note(content: string): void {
    this.parts.push(
      text(this.left + this.plotW / 2, this.top + 22, content, {
        'text-anchor': 'middle',
        'font-size': 12,
        fill: '#a00',
      }),
    );
  }

  svg(): string {
    return this.parts.join('\n');
  }
}
