/**
 * The network's ranks (bars) and the weight matrix W (heatmap), drawn on
 * canvases from the latest block. Like the line charts they subscribe to the
 * store directly and redraw only when a new block's view arrives.
 */
import type { NetworkView } from '@peerbench/peer';
import { useEffect, useRef } from 'react';
import { countChartDraw } from '../perf.js';
import { denseWeights } from '../store.js';
import { useApp, useAppState } from './context.js';
import { cssVar, fmt, onSchemeChange } from './format.js';

type Draw = (
  ctx: CanvasRenderingContext2D,
  w: number,
  h: number,
  net: NetworkView,
  selfUid: number | null,
) => void;

function useNetworkCanvas(draw: Draw, height: (width: number, net: NetworkView | null) => number) {
  const { store } = useApp();
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const el = canvas.current;
    if (!el) return;
    let frame = 0;
    let lastNet: NetworkView | null | undefined;
    const paint = () => {
      frame = 0;
      const s = store.getState();
      const net = s.snapshot?.network ?? null;
      const cssWidth = Math.max(160, el.parentElement?.clientWidth ?? 300);
      const cssHeight = height(cssWidth, net);
      const dpr = window.devicePixelRatio || 1;
      el.style.width = `${cssWidth}px`;
      el.style.height = `${cssHeight}px`;
      el.width = Math.round(cssWidth * dpr);
      el.height = Math.round(cssHeight * dpr);
      const ctx = el.getContext('2d');
      if (!ctx) return;
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.clearRect(0, 0, cssWidth, cssHeight);
      if (!net || net.peers.length === 0) {
        ctx.fillStyle = cssVar('--muted', '#888');
        ctx.font = '13px system-ui, sans-serif';
        ctx.fillText('Waiting for the first block…', 8, 20);
      } else {
        draw(ctx, cssWidth, cssHeight, net, s.snapshot?.uid ?? null);
      }
      countChartDraw();
    };
    const schedule = () => {
      if (frame === 0) frame = requestAnimationFrame(paint);
    };
    const unsubscribe = store.subscribe((s) => {
      const net = s.snapshot?.network ?? null;
      if (net !== lastNet) {
        lastNet = net;
        schedule();
      }
    });
    lastNet = store.getState().snapshot?.network ?? null;
    schedule();
    const resize = new ResizeObserver(schedule);
    if (el.parentElement) resize.observe(el.parentElement);
    const offScheme = onSchemeChange(schedule);
    return () => {
      unsubscribe();
      resize.disconnect();
      offScheme();
      if (frame) cancelAnimationFrame(frame);
    };
  }, [store, draw, height]);
  return canvas;
}

const drawRanks: Draw = (ctx, w, h, net, selfUid) => {
  const peers = net.peers;
  const n = peers.length;
  const maxRank = Math.max(...peers.map((p) => p.rank), 1e-12);
  const mean = peers.reduce((a, p) => a + p.rank, 0) / n;
  const left = 8;
  const bottom = 22;
  const top = 8;
  const plotH = h - bottom - top;
  const slot = (w - left * 2) / n;
  const barW = Math.max(2, Math.min(48, slot * 0.7));
  const text = cssVar('--muted', '#888');
  ctx.font = '11px system-ui, sans-serif';
  ctx.textAlign = 'center';
  for (let i = 0; i < n; i++) {
    const p = peers[i]!;
    const bh = (p.rank / maxRank) * plotH;
    const x = left + slot * i + (slot - barW) / 2;
    ctx.fillStyle = p.uid === selfUid ? cssVar('--accent', '#e0662d') : cssVar('--bar', '#4c8bf5');
    ctx.fillRect(x, top + plotH - bh, barW, bh);
    if (slot >= 14) {
      ctx.fillStyle = text;
      ctx.fillText(p.uid === selfUid ? 'you' : String(p.uid), x + barW / 2, h - 6);
    }
  }
  // Uniform ranks would all sit on this line; distance from it is what scoring changed.
  const y = top + plotH - (mean / maxRank) * plotH;
  ctx.strokeStyle = text;
  ctx.setLineDash([4, 4]);
  ctx.beginPath();
  ctx.moveTo(left, y);
  ctx.lineTo(w - left, y);
  ctx.stroke();
  ctx.setLineDash([]);
};

const drawHeatmap: Draw = (ctx, w, h, net, selfUid) => {
  const n = net.peers.length;
  const dense = denseWeights(net.weights, n);
  const label = 22;
  const cell = Math.max(1, Math.floor(Math.min(w - label, h - label) / n));
  const max = Math.max(...dense, 1e-12);
  const dark = window.matchMedia('(prefers-color-scheme: dark)').matches;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const t = dense[i * n + j]! / max;
      // Light: white → deep blue. Dark: near-black → bright cyan.
      const [r, g, b] = dark
        ? [20 + 40 * t, 24 + 190 * t, 32 + 210 * t]
        : [255 - 215 * t, 255 - 155 * t, 255 - 55 * t];
      ctx.fillStyle = `rgb(${r | 0},${g | 0},${b | 0})`;
      ctx.fillRect(label + j * cell, label + i * cell, cell, cell);
    }
  }
  ctx.fillStyle = cssVar('--muted', '#888');
  ctx.font = '10px system-ui, sans-serif';
  ctx.textAlign = 'center';
  if (cell >= 12) {
    for (let k = 0; k < n; k++) {
      const uid = net.peers[k]?.uid ?? k;
      ctx.fillText(String(uid), label + k * cell + cell / 2, 14);
      ctx.fillText(String(uid), 10, label + k * cell + cell / 2 + 4);
    }
  }
  if (selfUid !== null && selfUid < n) {
    ctx.strokeStyle = cssVar('--accent', '#e0662d');
    ctx.lineWidth = 2;
    ctx.strokeRect(label + 1, label + selfUid * cell + 1, n * cell - 2, cell - 2);
  }
};

const ranksHeight = () => 180;
const heatHeight = (width: number, net: NetworkView | null) =>
  net ? Math.min(320, Math.max(120, width)) : 60;

/** One-sentence text alternative of the latest block for screen readers. */
function useNetworkSummary(): string {
  return useAppState((s) => {
    const net = s.snapshot?.network;
    if (!net || net.peers.length === 0) return 'No block yet.';
    const ranks = net.peers.map((p) => `uid ${p.uid}: ${fmt(p.rank)}`).join(', ');
    return `Block ${net.height}, ${net.peers.length} peers. Ranks ${ranks}.`;
  });
}

export function RanksChart() {
  const canvas = useNetworkCanvas(drawRanks, ranksHeight);
  const summary = useNetworkSummary();
  return (
    <section className="card chart" data-testid="chart-network-ranks">
      <header className="chart-head">
        <h3>Network ranks</h3>
      </header>
      <p className="hint">
        Rank R of every peer in the latest block (yours highlighted); the dashed line is what equal ranks
        would be.
      </p>
      <div className="canvas-host">
        <canvas ref={canvas} role="img" aria-label={summary} />
      </div>
    </section>
  );
}

export function WeightsHeatmap() {
  const canvas = useNetworkCanvas(drawHeatmap, heatHeight);
  const n = useAppState((s) => s.snapshot?.network?.peers.length ?? 0);
  return (
    <section className="card chart" data-testid="chart-weights">
      <header className="chart-head">
        <h3>Weights W</h3>
      </header>
      <p className="hint">
        Row i is how peer i scores every peer j (each row sums to 1); darker is more weight. Your row is
        outlined.
      </p>
      <div className="canvas-host">
        <canvas ref={canvas} role="img" aria-label={`Weight matrix of ${n} peers`} />
      </div>
    </section>
  );
}
