/**
 * The ledger's part of /health and /metrics: its role (embedded, or in
 * clustered mode producer / follower / observer), its height, its lag behind
 * the shared block stream and the NATS connection state, read from the
 * mounted LedgerHook's status() (see @peerbench/ledger's LedgerStatus).
 */
import type { LedgerHook, LedgerRole, LedgerStatus } from '@peerbench/ledger';

export const LEDGER_ROLES: readonly LedgerRole[] = ['embedded', 'producer', 'follower', 'observer'];

/** The ledger's status, or null when no ledger is mounted or it reports none. Never throws. */
export function ledgerStatusOf(ledger: LedgerHook | undefined): LedgerStatus | null {
  try {
    return ledger?.status?.() ?? null;
  } catch {
    return null;
  }
}

/** The `ledger` field of /health. */
export function ledgerHealth(ledger: LedgerHook | undefined): { ledger: LedgerStatus | null } {
  const s = ledgerStatusOf(ledger);
  return {
    ledger: s && {
      role: s.role,
      height: s.height,
      lagBlocks: s.lagBlocks,
      natsConnected: s.natsConnected,
    },
  };
}

const PREFIX = 'peerbench_signaling_ledger_';

/** Prometheus lines (format 0.0.4) for the ledger; empty without one. */
export function renderLedgerPrometheus(ledger: LedgerHook | undefined): string {
  const s = ledgerStatusOf(ledger);
  if (!s) return '';
  const lines: string[] = [];
  const gauge = (name: string, help: string, samples: [string, number][]) => {
    lines.push(`# HELP ${PREFIX}${name} ${help}`, `# TYPE ${PREFIX}${name} gauge`);
    for (const [labels, value] of samples) lines.push(`${PREFIX}${name}${labels} ${value}`);
  };
  gauge(
    'role',
    'The ledger role of this instance (1 for the current one).',
    LEDGER_ROLES.map((role) => [`{role="${role}"}`, s.role === role ? 1 : 0]),
  );
  gauge('height', 'Height of the last block applied here.', [['', s.height]]);
  gauge('lag_blocks', 'Blocks on the shared block stream not applied here yet (-1: unknown).', [
    ['', s.lagBlocks],
  ]);
  if (s.natsConnected !== null)
    gauge('nats_connected', 'Whether the NATS connection is up (clustered mode).', [
      ['', s.natsConnected ? 1 : 0],
    ]);
  return `${lines.join('\n')}\n`;
}
