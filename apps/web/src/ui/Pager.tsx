import { type ReactNode, useState } from 'react';
import { pageOf } from '../networkStanding.js';

/** Paging state for a long table: the rows of the current page and the controls under it. */
export function usePaged<T>(rows: readonly T[], pageSize: number) {
  const [page, setPage] = useState(0);
  const view = pageOf(rows, page, pageSize);
  return { ...view, setPage, total: rows.length, pageSize };
}

/** "Rows 11-20 of 300" with previous/next buttons; nothing when everything fits on one page. */
export function Pager({
  page,
  pages,
  total,
  pageSize,
  setPage,
  label,
}: {
  page: number;
  pages: number;
  total: number;
  pageSize: number;
  setPage: (p: number) => void;
  label: string;
}) {
  if (pages <= 1) return null;
  const first = page * pageSize + 1;
  const last = Math.min(total, (page + 1) * pageSize);
  return (
    <nav className="pager" aria-label={`${label} pages`}>
      <button type="button" onClick={() => setPage(page - 1)} disabled={page === 0}>
        Previous
      </button>
      <span aria-live="polite">
        {label} {first}–{last} of {total}
      </span>
      <button type="button" onClick={() => setPage(page + 1)} disabled={page >= pages - 1}>
        Next
      </button>
    </nav>
  );
}

/**
 * A table that may scroll sideways on a narrow screen: a labelled region a
 * keyboard can focus and scroll (WCAG 2.1.1; axe's scrollable-region-focusable).
 */
export function ScrollTable({ labelledBy, children }: { labelledBy: string; children: ReactNode }) {
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must take focus (WCAG 2.1.1)
    <section className="table-scroll" tabIndex={0} aria-labelledby={labelledBy}>
      {children}
    </section>
  );
}
