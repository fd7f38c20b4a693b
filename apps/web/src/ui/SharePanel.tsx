import QRCode from 'qrcode';
import { useEffect, useRef, useState } from 'react';
import { useAppState } from './context.js';

/** The room's link, a copy button and a QR code drawn locally (no third-party service). */
export function SharePanel() {
  const url = useAppState((s) => s.shareUrl);
  const room = useAppState((s) => s.launch.room);
  const canvas = useRef<HTMLCanvasElement>(null);
  const [copied, setCopied] = useState<'idle' | 'copied' | 'failed'>('idle');

  useEffect(() => {
    if (!canvas.current) return;
    // Dark modules on white in both themes: phone scanners expect that contrast.
    QRCode.toCanvas(canvas.current, url, { width: 168, margin: 2, errorCorrectionLevel: 'M' }).catch(
      () => {},
    );
  }, [url]);

  const copy = async () => {
    try {
      await navigator.clipboard.writeText(url);
      setCopied('copied');
    } catch {
      setCopied('failed');
    }
    setTimeout(() => setCopied('idle'), 2500);
  };

  return (
    <section className="card share" aria-labelledby="share-title" data-testid="share">
      <div className="share-text">
        <h2 id="share-title">Bring friends into room “{room}”</h2>
        <p className="hint">Anyone who opens this link joins the same network and trains with you.</p>
        <div className="share-row">
          <input
            className="share-url"
            readOnly
            value={url}
            aria-label="Share link"
            data-testid="share-url"
            onFocus={(e) => e.currentTarget.select()}
          />
          <button type="button" onClick={copy}>
            {copied === 'copied' ? 'Copied' : 'Copy link'}
          </button>
        </div>
        <p className="hint" aria-live="polite">
          {copied === 'failed' ? 'Copying was not allowed here; select the link and copy it by hand.' : ''}
        </p>
      </div>
      <canvas ref={canvas} className="qr" role="img" aria-label={`QR code of ${url}`} />
    </section>
  );
}
