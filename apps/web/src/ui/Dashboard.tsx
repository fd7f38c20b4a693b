import type { BlockPoint, ConnectionState, PeerStatus, StepPoint } from '@peerbench/peer';
import { useShallow } from 'zustand/react/shallow';
import { backendLabel, describeBackend, formatMs, trialFigures, trialRows } from '../backendProbe.js';
import { type AppState, headline, rankSources } from '../store.js';
import { RanksChart, WeightsHeatmap } from './CanvasCharts.js';
import { CpuUse } from './CpuUse.js';
import { useApp, useAppState } from './context.js';
import { fmt } from './format.js';
import { LineChart } from './LineChart.js';
import { NetworkPanel } from './NetworkPanel.js';
import { Notices } from './Notices.js';
import { PeersTable } from './PeersTable.js';
import { SharePanel } from './SharePanel.js';

const CONNECTION_TEXT: Record<ConnectionState, string> = {
  idle: 'not connected',
  connecting: 'connecting…',
  connected: 'connected',
  reconnecting: 'reconnecting…',
  closed: 'disconnected',
};

const STATUS_TEXT: Record<PeerStatus, string> = {
  stopped: 'stopped',
  starting: 'starting…',
  running: 'training',
  paused: 'paused',
  stopping: 'stopping…',
  error: 'stopped by an error',
};

const selectLoss = (s: AppState) => s.lossHistory;
const selectBlocks = (s: AppState) => s.blockHistory;
const lossX = (p: StepPoint) => p.timeMs / 1000;
const lossY = (p: StepPoint) => p.loss;
const blockX = (p: BlockPoint) => p.height;
const stakeY = (p: BlockPoint) => p.stake;
const rankY = (p: BlockPoint) => p.rank;
const fmt4 = (v: number) => fmt(v, 4);

/** The per-block line charts: stake and rank. */
const BLOCK_CHARTS = [
  {
    title: 'Your stake per block',
    hint: 'Stake S grows each block by inflation in proportion to your rank.',
    y: stakeY,
    yLabel: 'stake',
    colorVar: '--line-stake',
    testId: 'chart-stake',
  },
  {
    title: 'Your rank per block',
    hint: 'Rank R: how much the stake-weighted network values your model.',
    y: rankY,
    yLabel: 'rank',
    colorVar: '--line-rank',
    testId: 'chart-rank',
  },
] as const;

function Stat({ label, value, testId }: { label: string; value: string; testId: string }) {
  return (
    <div className="stat">
      <div className="stat-label">{label}</div>
      <div className="stat-value" data-testid={testId}>
        {value}
      </div>
    </div>
  );
}

function Header() {
  const { runtime } = useApp();
  const h = useAppState(useShallow(headline));
  const connection = useAppState((s) => s.snapshot?.connection ?? 'idle');
  const status = useAppState((s) => s.snapshot?.status ?? 'stopped');
  const step = useAppState((s) => s.snapshot?.step ?? 0);
  const loss = useAppState((s) => s.snapshot?.loss ?? null);
  const validation = useAppState((s) => s.snapshot?.validation ?? null);
  const heldOut = useAppState((s) => s.snapshot?.accuracy ?? null);
  const heldOutOffline = useAppState((s) => s.snapshot?.offlineAccuracy ?? null);
  const sources = useAppState(
    useShallow((s) => {
      const r = rankSources(s.snapshot?.network ?? null, s.snapshot?.uid ?? null);
      return {
        own: r?.ownShare ?? null,
        ownCounted: r?.ownCounted ?? true,
        from: r ? r.from.map((f) => `uid ${f.uid} ${Math.round(f.share * 100)} %`).join(', ') : '',
      };
    }),
  );
  const uid = useAppState((s) => s.snapshot?.uid ?? null);
  const backend = useAppState((s) => s.snapshot?.backend ?? s.probe);
  const thread = useAppState((s) => s.peerThread);
  const cpuApplied = useAppState((s) => s.cpu.applied);
  const paused = status === 'paused';
  return (
    <section className="card status" aria-label="Status">
      <div className="status-line">
        <span className={`pill ${connection}`} data-testid="connection" role="status">
          {CONNECTION_TEXT[connection]}
        </span>
        <span className="pill neutral" data-testid="peer-status">
          {STATUS_TEXT[status]}
        </span>
        {backend ? (
          <span className="pill neutral" title={describeBackend(backend)} data-testid="backend-in-use">
            {backendLabel(backend.chosen)}
          </span>
        ) : null}
        {thread ? (
          <span
            className="pill neutral"
            data-testid="peer-thread"
            title={
              thread === 'worker'
                ? 'Training runs in a background worker, so this page stays responsive.'
                : 'Training runs on this page (?worker=0, or the worker could not start), so the page may stutter.'
            }
          >
            {thread === 'worker' ? 'in a worker' : 'on this page'}
          </span>
        ) : null}
        {thread === 'worker' ? (
          <span
            className="pill neutral"
            data-testid="cpu-in-use"
            title="CPU use the worker confirmed (change it below)"
          >
            CPU: {cpuApplied ?? '…'}
          </span>
        ) : thread === 'main' ? (
          <span className="pill neutral" data-testid="cpu-in-use" title="Fixed pause on the main thread">
            CPU: fixed pause
          </span>
        ) : null}
        <span className="controls">
          <button
            type="button"
            onClick={() => void (paused ? runtime.resume() : runtime.pause())}
            disabled={status !== 'running' && status !== 'paused'}
            data-testid="pause"
          >
            {paused ? 'Resume' : 'Pause'}
          </button>
          <button type="button" className="quiet" onClick={() => void runtime.stop()} data-testid="stop">
            Stop
          </button>
        </span>
      </div>
      <div className="stats">
        <Stat label="Your uid" value={uid === null ? '—' : String(uid)} testId="uid" />
        <Stat label="Block" value={h.height === null ? '—' : String(h.height)} testId="height" />
        <Stat label="τ (inflation)" value={fmt(h.tau)} testId="tau" />
        <Stat label="Your stake" value={fmt(h.stake)} testId="stake" />
        <Stat
          label="Your rank"
          value={h.rank === null ? '—' : `${fmt(h.rank, 4)}${h.rankPosition ? ` (#${h.rankPosition})` : ''}`}
          testId="rank"
        />
        <Stat label="Peers online" value={`${h.peersOnline} / ${h.peersKnown}`} testId="peers-online" />
        <Stat label="Step" value={String(step)} testId="step" />
        <Stat label="Training loss" value={fmt(loss)} testId="loss" />
        <Stat
          label="Validation loss / accuracy"
          value={validation ? `${fmt(validation.loss)} / ${Math.round(validation.accuracy * 100)} %` : '—'}
          testId="validation"
        />
        <Stat
          label="Held-out accuracy live / offline"
          value={
            heldOut === null
              ? '—'
              : `${Math.round(heldOut * 100)} % / ${heldOutOffline === null ? '—' : `${Math.round(heldOutOffline * 100)} %`}`
          }
          testId="held-out"
        />
      </div>
      <p className="hint" data-testid="rank-sources">
        {sources.own === null
          ? 'Nobody has scored you yet.'
          : !sources.ownCounted
            ? sources.from
              ? `Your rank comes only from the other peers' scores (this network does not count your own row): ${sources.from}.`
              : 'No other peer values you yet, and this network does not count your own row: your rank stays 0 until one does.'
            : `Your own row is ${Math.round(sources.own * 100)} % of the stake-weighted scores of you${sources.from ? `; from others: ${sources.from}` : '; no other peer values you yet'}.`}
      </p>
      <BackendTrial />
      <CpuUse compact />
    </section>
  );
}

/** The start-up trial's figures: each backend's training step time, and why the one in use won. */
function BackendTrial() {
  const report = useAppState((s) => s.snapshot?.backend ?? null);
  if (!report || report.basis !== 'trial') return null;
  return (
    <details className="backend-trial" data-testid="backend-trial">
      <summary>
        Backend: {backendLabel(report.chosen)}, the fastest step in a trial ({trialFigures(report)} per step)
      </summary>
      <table>
        <thead>
          <tr>
            <th>backend</th>
            <th>step</th>
            <th>first step</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {trialRows(report).map((r) => (
            <tr key={r.backend} data-testid={`trial-${r.backend}`} data-step-ms={r.stepMs ?? ''}>
              <td>{r.label}</td>
              <td>{formatMs(r.stepMs)}</td>
              <td>{formatMs(r.firstStepMs)}</td>
              <td className="hint">{r.note}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </details>
  );
}

export function Dashboard() {
  return (
    <main className="dashboard">
      <Header />
      <Notices showFallback />
      <NetworkPanel />
      <div className="charts">
        <LineChart
          title="Your training loss"
          hint="Loss of your model on its own batches; lower is better. The header's validation loss is on data it never trains on."
          select={selectLoss}
          x={lossX}
          y={lossY}
          xLabel="time"
          yLabel="loss"
          time
          colorVar="--line-loss"
          testId="chart-loss"
        />
        {BLOCK_CHARTS.map((c) => (
          <LineChart
            key={c.testId}
            {...c}
            select={selectBlocks}
            x={blockX}
            xLabel="block"
            formatLast={fmt4}
          />
        ))}
        <RanksChart />
        <WeightsHeatmap />
      </div>
      <PeersTable />
      <SharePanel />
    </main>
  );
}
