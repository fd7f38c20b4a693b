/**
 * A uPlot line chart fed straight from the store, outside React: the
 * component renders once, then a store subscription appends only the new
 * points to the chart's column arrays and redraws at most once per frame.
 */
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { countChartDraw } from '../perf.js';
import type { AppState } from '../store.js';
import { useApp } from './context.js';
import { cssVar, onSchemeChange } from './format.js';

export interface LineChartProps<T> {
  title: string;
  /** Short sentence under the title: how to read the chart. */
  hint: string;
  select: (s: AppState) => readonly T[];
  x: (p: T) => number;
  y: (p: T) => number;
  xLabel: string;
  yLabel: string;
  /** x values are Unix seconds (time axis) rather than block heights. */
  time?: boolean;
  colorVar: string;
  testId: string;
  /** Format of the latest value shown next to the title. */
  formatLast?: (v: number) => string;
}

/** Column arrays grown in place; rebuilt only when the history was trimmed or replaced. */
class Columns<T> {
  xs: number[] = [];
  ys: number[] = [];
  private source: readonly T[] = [];

  constructor(
    private readonly x: (p: T) => number,
    private readonly y: (p: T) => number,
  ) {}

  /** Returns true when the columns changed. */
  update(history: readonly T[]): boolean {
    if (history === this.source) return false;
    const continues =
      this.source.length > 0 && history.length >= this.source.length && history[0] === this.source[0];
    const from = continues ? this.source.length : 0;
    if (!continues) {
      this.xs = [];
      this.ys = [];
    }
    for (let i = from; i < history.length; i++) {
      const p = history[i]!;
      this.xs.push(this.x(p));
      this.ys.push(this.y(p));
    }
    this.source = history;
    return true;
  }
}

export function LineChart<T>(props: LineChartProps<T>) {
  const { store } = useApp();
  const host = useRef<HTMLDivElement>(null);
  const lastValue = useRef<HTMLSpanElement>(null);
  const propsRef = useRef(props);
  propsRef.current = props;

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const p = propsRef.current;
    const cols = new Columns<T>(p.x, p.y);
    let chart: uPlot | null = null;
    let frame = 0;

    const build = () => {
      chart?.destroy();
      const text = cssVar('--muted', '#888');
      const grid = cssVar('--grid', 'rgba(128,128,128,0.2)');
      const stroke = cssVar(p.colorVar, '#4c8bf5');
      const width = Math.max(200, el.clientWidth);
      chart = new uPlot(
        {
          width,
          height: 180,
          legend: { show: false },
          cursor: { drag: { x: false, y: false } },
          scales: { x: { time: p.time ?? false } },
          series: [{ label: p.xLabel }, { label: p.yLabel, stroke, width: 2, points: { show: false } }],
          axes: [
            {
              stroke: text,
              grid: { stroke: grid, width: 1 },
              ticks: { stroke: grid },
              // Block heights are whole numbers: no 19.5 ticks.
              ...(p.time ? {} : { incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000] }),
            },
            { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, size: 56 },
          ],
          hooks: { draw: [() => countChartDraw()] },
        },
        [cols.xs, cols.ys],
        el,
      );
    };

    const render = () => {
      frame = 0;
      chart?.setData([cols.xs, cols.ys]);
      // Read by the e2e suite to check the chart itself gained points.
      el.dataset.points = String(cols.xs.length);
      const last = cols.ys.at(-1);
      if (lastValue.current)
        lastValue.current.textContent =
          last === undefined ? '' : (p.formatLast ?? ((v) => v.toFixed(3)))(last);
    };

    cols.update(p.select(store.getState()));
    build();
    render();

    const unsubscribe = store.subscribe((state) => {
      if (cols.update(propsRef.current.select(state)) && frame === 0) frame = requestAnimationFrame(render);
    });
    const resize = new ResizeObserver(() => {
      const w = Math.max(200, el.clientWidth);
      if (chart && Math.abs(chart.width - w) > 1) chart.setSize({ width: w, height: 180 });
    });
    resize.observe(el);
    const offScheme = onSchemeChange(() => {
      build();
      render();
    });
    return () => {
      unsubscribe();
      resize.disconnect();
      offScheme();
      if (frame) cancelAnimationFrame(frame);
      chart?.destroy();
    };
  }, [store]);

  return (
    <section className="card chart" data-testid={props.testId} aria-label={props.title}>
      <header className="chart-head">
        <h3>{props.title}</h3>
        <span className="chart-last" ref={lastValue} />
      </header>
      <p className="hint">{props.hint}</p>
      <div className="chart-host" ref={host} role="img" aria-label={`${props.title}: ${props.hint}`} />
    </section>
  );
}
