import { CPU_LEVEL_TEXT, CPU_LEVELS } from '../cpuUse.js';
import { useApp, useAppState } from './context.js';

/**
 * The "CPU use" choice: native radio buttons (Tab reaches the group, arrow
 * keys move the choice), applied live to a running worker. `data-applied` is
 * the level the worker confirmed (empty until it has), for the e2e suite.
 */
export function CpuUse({ compact = false }: { compact?: boolean }) {
  const { runtime } = useApp();
  const level = useAppState((s) => s.cpu.level);
  const source = useAppState((s) => s.cpu.source);
  const applied = useAppState((s) => s.cpu.applied);
  const thread = useAppState((s) => s.peerThread);
  const useWorker = useAppState((s) => s.launch.useWorker);
  const fixed = thread === 'main' || (thread === null && !useWorker);
  const pending = thread === 'worker' && applied !== level;
  return (
    <fieldset
      className={`cpu-use${compact ? ' compact' : ''}`}
      data-testid="cpu-use"
      data-level={level}
      data-applied={applied ?? ''}
    >
      <legend>CPU use</legend>
      <div className="cpu-options">
        {CPU_LEVELS.map((l) => (
          <label key={l} className={l === level ? 'selected' : undefined}>
            <input
              type="radio"
              name={compact ? 'cpu-use-dashboard' : 'cpu-use'}
              value={l}
              checked={l === level}
              onChange={() => void runtime.setCpuLevel(l)}
              data-testid={`cpu-${l}`}
            />
            {CPU_LEVEL_TEXT[l].label}
          </label>
        ))}
      </div>
      <p className="hint" data-testid="cpu-use-hint">
        {CPU_LEVEL_TEXT[level].hint}
        {source === 'url' ? ' (set by the link’s ?cpu=)' : ''}
        {fixed
          ? '. Training on this page keeps its own short fixed pause; this applies when it runs in a worker.'
          : pending
            ? '. Applying…'
            : '.'}
      </p>
    </fieldset>
  );
}
