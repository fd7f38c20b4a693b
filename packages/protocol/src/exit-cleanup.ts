/**
 * Synchronous clean-up of what a Node process started outside itself (child
 * processes, temporary directories, network namespaces) when it exits, and
 * when SIGINT, SIGTERM or SIGHUP stops it: Node runs no `exit` listeners for
 * a signal it dies of, so each of those runs the clean-ups and then raises
 * the signal again (the process still ends by it). A SIGKILL runs nothing:
 * the users sweep what an earlier run left behind at start. When the process
 * has its own listener for the signal (a CLI's graceful shutdown), the
 * re-raised signal goes to that listener and the process ends when it says.
 *
 * Node only (`process`), so it is a subpath export,
 * `@peerbench/protocol/exit-cleanup`, never part of the browser-safe index.
 */

const cleanups = new Set<() => void>();
let installed = false;

/**
 * Runs `cleanup` (synchronous; it must not throw for a thing already gone)
 * on exit or on one of the signals above, once. Returns a function that
 * takes it back (call it when the thing was cleaned up the normal way).
 */
export function cleanUpOnExit(cleanup: () => void): () => void {
  install();
  cleanups.add(cleanup);
  return () => {
    cleanups.delete(cleanup);
  };
}

/** Last registered first, like nested `finally` blocks: a process is killed before its directory goes. */
function runAll(): void {
  const all = [...cleanups].reverse();
  cleanups.clear();
  for (const cleanup of all) {
    try {
      cleanup();
    } catch {
      // one failed clean-up does not keep the others from running
    }
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  process.once('exit', runAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      runAll();
      process.removeListener(signal, onSignal);
      process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

/**
 * Whether a process with this pid exists (EPERM: it exists and is not ours),
 * for the sweeps of what a SIGKILLed earlier run left behind.
 */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
