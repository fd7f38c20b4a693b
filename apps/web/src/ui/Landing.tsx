import { backendLabel, describeBackend } from '../backendProbe.js';
import { privateRoomUrl, publicRoomUrl } from '../config.js';
import { CpuUse } from './CpuUse.js';
import { useApp, useAppState } from './context.js';
import { Notices } from './Notices.js';
import { SharePanel } from './SharePanel.js';

const ROOM_SOURCE_TEXT = {
  public: 'the public network: everyone who opens this site without a room link trains here together',
  link: 'a private room from your link: only people with the link join it',
} as const;

/** One click to the other kind of room: a new private room from the public network, or back. */
const DEGREE_SOURCE_TEXT = {
  link: 'set by ?degree= in the address',
  server: "the server's setting; ?degree= in the address changes it",
  default: 'the default; ?degree= in the address changes it',
} as const;

function RoomSwitch({ roomSource }: { roomSource: 'public' | 'link' }) {
  const here = new URL(window.location.href);
  return roomSource === 'public' ? (
    <a href={privateRoomUrl(here)} data-testid="private-room">
      Start a private room instead
    </a>
  ) : (
    <a href={publicRoomUrl(here)} data-testid="public-room">
      Join the public network instead
    </a>
  );
}

export function Landing() {
  const { runtime } = useApp();
  const room = useAppState((s) => s.launch.room);
  const roomSource = useAppState((s) => s.launch.roomSource);
  const probe = useAppState((s) => s.probe);
  const useWorker = useAppState((s) => s.launch.useWorker);
  const degree = useAppState((s) => s.launch.degree);
  const degreeSource = useAppState((s) => s.launch.degreeSource);
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
              <span className="hint" data-testid="room-kind">
                ({ROOM_SOURCE_TEXT[roomSource]})
              </span>
              <br />
              <RoomSwitch roomSource={roomSource} />
            </dd>
          </div>
          <div>
            <dt>Links</dt>
            <dd data-testid="degree">
              at most <strong>{degree}</strong> other peers at a time{' '}
              <span className="hint">
                ({DEGREE_SOURCE_TEXT[degreeSource]}): each block your tab keeps the ones that help it most and
                tries someone new in place of the least useful.
              </span>
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
