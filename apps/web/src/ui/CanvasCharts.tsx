/**
 * The network's top ranks (bars) and the weight matrix W over your
 * neighbourhood (heatmap), drawn on canvases from the latest block. Like the
 * line charts they subscribe to the store directly and redraw only when a new
 * block's view arrives. In a network of hundreds both stay readable: the bars
 * are the top TOP_RANK_BARS and yours, the heatmap you and your neighbours.
 */
import type { NetworkView } from '@peerbench/peer';
import { type ReactNode, useEffect, useRef } from 'react';
import { MAX_HEATMAP_PEERS, neighbourhoodUids, subWeights, topRanks } from '../networkStanding.js';
import { countChartDraw } from '../perf.js';
import type { AppState } from '../store.js';
import { useApp, useAppState } from './context.js';
import { cssVar, fmt, onSchemeChange } from './format.js';

type Draw = (ctx: CanvasRenderingContext2D, w: number, h: number, net: NetworkView, state: AppState) => void;

/** Bars in the ranks chart: the top ones (and yours after them when you are not among them). */
export const TOP_RANK_BARS = 24;

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
        draw(ctx, cssWidth, cssHeight, net, s);
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

const drawRanks: Draw = (ctx, w, h, net, state) => {
  const peers = topRanks(net, state.snapshot?.uid ?? null, TOP_RANK_BARS);
  const n = peers.length;
  const maxRank = Math.max(...peers.map((p) => p.rank), 1e-12);
  const mean = net.peers.reduce((a, p) => a + p.rank, 0) / Math.max(1, net.peers.length);
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
    ctx.fillStyle = p.isSelf ? cssVar('--accent', '#e0662d') : cssVar('--bar', '#4c8bf5');
    ctx.fillRect(x, top + plotH - bh, barW, bh);
    if (slot >= 14) {
      ctx.fillStyle = text;
      ctx.fillText(p.isSelf ? 'you' : String(p.uid), x + barW / 2, h - 6);
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

/** The uids the heatmap shows for this state: you, then your neighbours. */
function heatmapUids(net: NetworkView, s: AppState): number[] {
  const known = s.snapshot?.peers.filter((p) => !p.isSelf).map((p) => p.peerId) ?? [];
  return neighbourhoodUids(net, s.snapshot?.uid ?? null, s.snapshot?.neighbourhood, known);
}

const drawHeatmap: Draw = (ctx, w, h, net, state) => {
  const uids = heatmapUids(net, state);
  const n = uids.length;
  if (n === 0) return;
  const dense = subWeights(net, uids);
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
      const uid = uids[k] ?? k;
      ctx.fillText(String(uid), label + k * cell + cell / 2, 14);
      ctx.fillText(String(uid), 10, label + k * cell + cell / 2 + 4);
    }
  }
  // You are row 0 when registered.
  if (uids[0] === state.snapshot?.uid) {
    ctx.strokeStyle = cssVar('--accent', '#e0662d');
    ctx.lineWidth = 2;
    ctx.strokeRect(label + 1, label + 1, n * cell - 2, cell - 2);
  }
};

const ranksHeight = () => 180;
const heatHeight = (width: number, net: NetworkView | null) =>
  net ? Math.min(320, Math.max(120, width)) : 60;

/** One-sentence text alternative of the bars for screen readers. */
function useRanksSummary(): string {
  return useAppState((s) => {
    const net = s.snapshot?.network;
    if (!net || net.peers.length === 0) return 'No block yet.';
    const shown = topRanks(net, s.snapshot?.uid ?? null, TOP_RANK_BARS);
    const ranks = shown.map((p) => `${p.isSelf ? 'you' : `uid ${p.uid}`}: ${fmt(p.rank)}`).join(', ');
    return `Block ${net.height}, ${net.peers.length} peers. Highest ranks ${ranks}.`;
  });
}

/** A chart card: title, hint, and the canvas with its text alternative. */
function CanvasCard(props: {
  title: string;
  hint: ReactNode;
  testId: string;
  canvas: React.RefObject<HTMLCanvasElement | null>;
  label: string;
}) {
  return (
    <section className="card chart" data-testid={props.testId}>
      <header className="chart-head">
        <h3>{props.title}</h3>
      </header>
      <p className="hint">{props.hint}</p>
      <div className="canvas-host">
        <canvas ref={props.canvas} role="img" aria-label={props.label} />
      </div>
    </section>
  );
}

export function RanksChart() {
  const canvas = useNetworkCanvas(drawRanks, ranksHeight);
  const summary = useRanksSummary();
  return (
    <CanvasCard
      title="Network ranks"
      hint={`Rank R of the ${TOP_RANK_BARS} highest-ranked peers in the latest block, and yours (highlighted); the dashed line is what equal ranks would be.`}
      testId="chart-network-ranks"
      canvas={canvas}
      label={summary}
    />
  );
}

export function WeightsHeatmap() {
  const canvas = useNetworkCanvas(drawHeatmap, heatHeight);
  const n = useAppState((s) => {
    const net = s.snapshot?.network;
    return net ? heatmapUids(net, s).length : 0;
  });
  return (
    <CanvasCard
      title="Weights W in your neighbourhood"
      hint={`Row i is how peer i scores peer j, for you (first row, outlined) and your neighbours (at most ${MAX_HEATMAP_PEERS - 1}); darker is more weight.`}
      testId="chart-weights"
      canvas={canvas}
      label={`Weight matrix of you and ${Math.max(0, n - 1)} neighbours`}
    />
  );
}
