import { useMemo } from 'react';
import { describeBackend, isFallback } from '../backendProbe.js';
import { notices } from '../store.js';
import { useApp, useAppState } from './context.js';

const fallbackText = (r: Parameters<typeof describeBackend>[0]) =>
  isFallback(r) ? describeBackend(r) : null;

export function Notices({ showFallback }: { showFallback: boolean }) {
  const { store, runtime } = useApp();
  const appError = useAppState((s) => s.appError);
  const snapshot = useAppState((s) => s.snapshot);
  const probe = useAppState((s) => s.probe);
  const notes = useAppState((s) => s.notes);
  // biome-ignore lint/correctness/useExhaustiveDependencies: the selected slices are what notices() reads
  const list = useMemo(
    () => notices(store.getState(), showFallback ? fallbackText : () => null),
    [store, appError, snapshot, probe, notes, showFallback],
  );
  if (list.length === 0) return null;
  return (
    <div className="notices" aria-live="polite">
      {list.map((n) => (
        <div
          key={n.code}
          className={`notice ${n.kind}`}
          role={n.kind === 'error' ? 'alert' : 'status'}
          data-code={n.code}
        >
          <div>
            <strong>{n.title}.</strong> {n.message}
          </div>
          {n.action === 'retry' ? (
            <button type="button" onClick={() => runtime.retryNow()}>
              Retry now
            </button>
          ) : null}
        </div>
      ))}
    </div>
  );
}
