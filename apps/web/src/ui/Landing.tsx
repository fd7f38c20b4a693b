import { backendLabel, describeBackend } from '../backendProbe.js';
import { CpuUse } from './CpuUse.js';
import { useApp, useAppState } from './context.js';
import { Notices } from './Notices.js';
import { SharePanel } from './SharePanel.js';

const ROOM_SOURCE_TEXT = {
  link: 'from your link',
  'last-used': 'the room you used last time',
  generated: 'a new room, just for you and whoever you share it with',
} as const;

export function Landing() {
  const { runtime } = useApp();
  const room = useAppState((s) => s.launch.room);
  const roomSource = useAppState((s) => s.launch.roomSource);
  const probe = useAppState((s) => s.probe);
  const useWorker = useAppState((s) => s.launch.useWorker);
  const blocked = useAppState((s) => s.appError?.code === 'webrtc-blocked');
  const ready = useAppState((s) => s.phase === 'landing' && s.peerId !== null);
  return (
    <main className="landing">
      <section className="hero card">
        <h1>Train a shared AI in your browser tab</h1>
        <p className="lead">
          peerbench is a peer-to-peer network where every open tab trains a small model and learns from the
          other tabs’ models over direct WebRTC links. Peers score how useful each other is, and a shared
          ledger turns those scores into stake and rank, block by block.
        </p>
        <button
          type="button"
          className="primary big"
          onClick={() => void runtime.contribute()}
          disabled={!ready || blocked}
          data-testid="contribute"
        >
          Contribute
        </button>
        <dl className="facts">
          <div>
            <dt>Room</dt>
            <dd>
              <code data-testid="room">{room}</code>{' '}
              <span className="hint">({ROOM_SOURCE_TEXT[roomSource]})</span>
            </dd>
          </div>
          <div>
            <dt>Compute</dt>
            <dd data-testid="backend">
              {probe ? (
                <>
                  <strong>{backendLabel(probe.chosen)}</strong>{' '}
                  <span className="hint">{describeBackend(probe)}</span>
                </>
              ) : (
                'checking this device…'
              )}
              <br />
              <span className="hint" data-testid="thread-plan">
                {useWorker
                  ? 'Training runs in a background worker, so this page stays responsive.'
                  : 'Training runs on this page (?worker=0); the page may stutter while it trains.'}
              </span>
            </dd>
          </div>
        </dl>
        <CpuUse />
      </section>
      <Notices showFallback={false} />
      <SharePanel />
    </main>
  );
}
