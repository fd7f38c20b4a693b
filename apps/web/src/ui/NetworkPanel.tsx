/**
 * Your place in a big network (issue 14): how many peers the network has,
 * your rank as a share and a percentile, the top ranks with yours, and your
 * neighbours with why each holds one of your D places.
 */
import type { NeighbourEntry, NeighbourReason } from '@peerbench/peer';
import type { ReactNode } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { standingOf, topRanks } from '../networkStanding.js';
import { useAppState } from './context.js';
import { fmt, fmtPercent, shortId } from './format.js';
import { Pager, ScrollTable, usePaged } from './Pager.js';
import { PEERS_PAGE_SIZE } from './PeersTable.js';

/** Top ranks listed (yours is added after them when it is not among them). */
export const TOP_RANKS_SHOWN = 5;

const REASON_TEXT: Record<NeighbourReason, string> = {
  kept: 'kept: it earns a high score from you',
  exploring: 'exploring: being tried out',
};

const NEIGHBOUR_COLUMNS: {
  key: string;
  label: string;
  num?: boolean;
  cell: (n: NeighbourEntry) => ReactNode;
}[] = [
  { key: 'peer', label: 'Neighbour', cell: (n) => <code title={n.peerId}>{shortId(n.peerId)}</code> },
  { key: 'why', label: 'Why it is there', cell: (n) => REASON_TEXT[n.reason] },
  { key: 'since', label: 'Since block', num: true, cell: (n) => n.sinceHeight },
  { key: 'score', label: 'Your score', num: true, cell: (n) => fmt(n.score) },
  { key: 'rank', label: 'Rank', num: true, cell: (n) => fmt(n.rank, 4) },
];

function Neighbours({ entries }: { entries: readonly NeighbourEntry[] }) {
  const paged = usePaged(entries, PEERS_PAGE_SIZE);
  const numClass = (c: { num?: boolean }) => (c.num ? 'num' : undefined);
  return (
    <>
      <ScrollTable labelledBy="neighbours-title">
        <table data-testid="neighbours">
          <thead>
            <tr>
              {NEIGHBOUR_COLUMNS.map((c) => (
                <th key={c.key} scope="col" className={numClass(c)}>
                  {c.label}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {paged.rows.map((n) => (
              <tr key={n.peerId} data-peer-id={n.peerId} data-reason={n.reason}>
                {NEIGHBOUR_COLUMNS.map((c) => (
                  <td key={c.key} className={numClass(c)}>
                    {c.cell(n)}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </ScrollTable>
      <Pager {...paged} label="Neighbours" />
    </>
  );
}

export function NetworkPanel() {
  const net = useAppState((s) => s.snapshot?.network ?? null);
  const uid = useAppState((s) => s.snapshot?.uid ?? null);
  const hood = useAppState((s) => s.snapshot?.neighbourhood);
  const known = useAppState(useShallow((s) => s.snapshot?.peers.length ?? 0));
  const standing = standingOf(net, uid);
  const top = topRanks(net, uid, TOP_RANKS_SHOWN);
  const size = hood?.networkSize ?? (known > 0 ? known : null);
  return (
    <section className="card" aria-labelledby="network-title" data-testid="network">
      <h2 id="network-title">Your place in the network</h2>
      <dl className="network-facts">
        <div>
          <dt>Peers in the network</dt>
          <dd data-testid="network-size">
            {size === null ? '—' : size}
            {net ? ` (${net.peers.length} registered on the ledger)` : ''}
          </dd>
        </div>
        <div>
          <dt>Your share of all rank</dt>
          <dd data-testid="rank-share">{standing ? fmtPercent(standing.share) : '—'}</dd>
        </div>
        <div>
          <dt>Your percentile</dt>
          <dd data-testid="rank-percentile">
            {standing
              ? `above ${Math.round(standing.percentile * 100)} % of the other peers (#${standing.position} of ${standing.of})`
              : '—'}
          </dd>
        </div>
        <div>
          <dt>Your links</dt>
          <dd data-testid="link-count">
            {hood
              ? `${hood.neighbours.length} of at most ${hood.maxLinks}; ${hood.triedCount} peers tried so far`
              : 'every peer of this room (no neighbour limit)'}
          </dd>
        </div>
      </dl>
      <h3>Top ranks</h3>
      <ol className="top-ranks" data-testid="top-ranks">
        {top.map((r) => (
          <li key={r.uid} value={r.position} data-self={r.isSelf}>
            uid {r.uid} <code title={r.peerId}>{shortId(r.peerId)}</code>: {fmt(r.rank, 4)}
            {r.isSelf ? <span className="tag">you</span> : null}
          </li>
        ))}
      </ol>
      {top.length === 0 ? <p className="hint">Waiting for the first block…</p> : null}
      <h3 id="neighbours-title">Your neighbours</h3>
      {hood ? (
        <>
          <p className="hint">
            The peers your model learns from and is scored by (at most {hood.maxLinks}). Each block the one
            that stays lowest is let go and a peer not tried yet is explored.
          </p>
          <Neighbours entries={hood.neighbours} />
        </>
      ) : (
        <p className="hint">Every peer of this room is linked to you: see the peers table below.</p>
      )}
    </section>
  );
}
