import type { PeerRow } from '@peerbench/peer';
import type React from 'react';
import { linkLabel } from '../links.js';
import { useAppState } from './context.js';
import { fmt, fmtPercent, shortId } from './format.js';
import { Pager, ScrollTable, usePaged } from './Pager.js';

/** Rows per page: a network of hundreds stays readable, 3 tabs fit on one page. */
export const PEERS_PAGE_SIZE = 10;

const COLUMNS: { key: string; label: React.ReactNode; num?: boolean }[] = [
  { key: 'peer', label: 'Peer' },
  { key: 'uid', label: 'uid' },
  { key: 'status', label: 'Status' },
  { key: 'link', label: 'Link' },
  { key: 'latency', label: 'Latency', num: true },
  { key: 'gate', label: 'Gate', num: true },
  {
    key: 'w',
    label: (
      <>
        w<sub>ij</sub>
      </>
    ),
    num: true,
  },
  { key: 'stake', label: 'Stake', num: true },
  { key: 'rank', label: 'Rank', num: true },
];

function sortRows(rows: readonly PeerRow[]): PeerRow[] {
  return [...rows].sort(
    (a, b) => Number(b.isSelf) - Number(a.isSelf) || Number(b.online) - Number(a.online) || b.rank - a.rank,
  );
}

function LinkCell({ view }: { view: Parameters<typeof linkLabel>[0] }) {
  const label = linkLabel(view);
  return (
    <span className={`link link-${label.kind}`} title={label.title} data-link-kind={label.kind}>
      {label.text}
    </span>
  );
}

export function PeersTable() {
  const rows = useAppState((s) => s.snapshot?.peers ?? null);
  const links = useAppState((s) => s.links);
  const paged = usePaged(rows ? sortRows(rows) : [], PEERS_PAGE_SIZE);
  if (!rows) return null;
  const sorted = paged.rows;
  return (
    <section className="card" aria-labelledby="peers-title" data-testid="peers">
      <h2 id="peers-title">Peers</h2>
      <p className="hint">
        Gate weight: how much your model routes to that peer. w<sub>ij</sub>: the score you sign onto the
        ledger for it. Stake and rank come from the latest block. Link: how your WebRTC connection to that
        peer travels (direct, or through the TURN relay when your networks cannot reach each other).
      </p>
      <ScrollTable labelledBy="peers-title">
        <table>
          <thead>
            <tr>
              {COLUMNS.map((c) => (
                <th key={c.key} scope="col" className={c.num ? 'num' : undefined}>
                  {c.label}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {sorted.length === 0 ? (
              <tr>
                <td colSpan={9} className="hint">
                  No peers yet.
                </td>
              </tr>
            ) : (
              sorted.map((p) => (
                <tr key={p.peerId} data-peer-id={p.peerId} data-online={p.online}>
                  <td>
                    <code title={p.peerId}>{shortId(p.peerId)}</code>
                    {p.isSelf ? <span className="tag">you</span> : null}
                  </td>
                  <td>{p.uid ?? '—'}</td>
                  <td>
                    <span className={`dot ${p.online ? 'on' : 'off'}`} aria-hidden="true" />
                    {p.online ? 'online' : 'offline'}
                  </td>
                  <td>{p.isSelf ? '—' : <LinkCell view={links[p.peerId]} />}</td>
                  <td className="num">
                    {p.isSelf ? '—' : p.latencyMs === null ? '—' : `${p.latencyMs.toFixed(0)} ms`}
                  </td>
                  <td className="num">{fmtPercent(p.gateWeight)}</td>
                  <td className="num">{fmt(p.weight)}</td>
                  <td className="num">{fmt(p.stake)}</td>
                  <td className="num">{fmt(p.rank, 4)}</td>
                </tr>
              ))
            )}
          </tbody>
        </table>
      </ScrollTable>
      <Pager {...paged} label="Peers" />
    </section>
  );
}
