import { useAppState } from './context.js';
import { Dashboard } from './Dashboard.js';
import { Landing } from './Landing.js';

export function App() {
  const phase = useAppState((s) => s.phase);
  const room = useAppState((s) => s.launch.room);
  const isPublic = useAppState((s) => s.launch.roomSource === 'public');
  const peerId = useAppState((s) => s.peerId);
  return (
    <>
      <a className="skip" href="#content">
        Skip to content
      </a>
      <header className="topbar">
        <span className="brand">peerbench</span>
        <span className="topbar-room">
          {isPublic ? 'public network' : 'private room'} <code>{room}</code>
        </span>
        {peerId ? (
          <span className="topbar-id" title={peerId} data-testid="peer-id">
            you: <code>{peerId.slice(0, 8)}</code>
          </span>
        ) : null}
      </header>
      <div id="content">{phase === 'contributing' ? <Dashboard /> : <Landing />}</div>
    </>
  );
}
