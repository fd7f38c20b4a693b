/**
 * Which Chromium the suite drives, and with which flags. The suite never
 * downloads a browser: it uses Debian's package (/usr/bin/chromium) or the
 * binary named by PEERBENCH_CHROMIUM.
 */
import { existsSync } from 'node:fs';

const CANDIDATES = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/lib/chromium/chromium',
  '/snap/bin/chromium',
];

export function findChromium(): string {
  const fromEnv = process.env.PEERBENCH_CHROMIUM;
  if (fromEnv) {
    if (existsSync(fromEnv)) return fromEnv;
    throw new Error(
      `PEERBENCH_CHROMIUM=${fromEnv} does not exist. Point it at a Chromium binary or unset it.`,
    );
  }
  for (const path of CANDIDATES) if (existsSync(path)) return path;
  throw new Error(
    `No Chromium found (looked at ${CANDIDATES.join(', ')}). The e2e suite uses the system's Chromium and never downloads one: ` +
      'install it with `apt-get install -y chromium` (scripts/setup.sh does this when run as root) or set PEERBENCH_CHROMIUM=/path/to/chromium.',
  );
}

/**
 * Every Chromium flag the suite needs, in one place:
 * - --no-sandbox: CI containers run as root, where Chromium's sandbox refuses to start.
 * - --disable-features=WebRtcHideLocalIpsWithMdns: by default WebRTC hides host
 *   candidates behind mDNS names (*.local) that only the same browser process can
 *   resolve; pages in separate browser contexts/processes then never connect over
 *   loopback. With this off they exchange plain 127.0.0.1/LAN host candidates.
 * - --use-angle=swiftshader --enable-unsafe-swiftshader: there is no GPU here;
 *   these give WebGL2 on the SwiftShader software rasterizer (newer Chromium no
 *   longer falls back to it silently), so the tfjs WebGL backend is exercised.
 *   Not --disable-gpu: that would take WebGL away too.
 * - --enable-unsafe-webgpu --use-webgpu-adapter=swiftshader: a WebGPU adapter
 *   without a GPU (SwiftShader, on 127.0.0.1 pages; about:blank has no
 *   navigator.gpu), so pages that choose their backend themselves meet WebGPU
 *   as a volunteer's browser would. A software adapter: it tests correctness,
 *   not speed.
 * - --disable-background-networking --disable-component-update --disable-sync
 *   --no-first-run --no-default-browser-check: this machine has no network beyond
 *   loopback; without these Chromium keeps trying to reach Google services.
 * - --autoplay-policy / throttling flags: several pages train at once, most of
 *   them in background tabs/windows; Chromium would otherwise throttle their
 *   timers to 1 Hz and the "other" peers would stall.
 */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
  '--use-angle=swiftshader',
  '--enable-unsafe-swiftshader',
  '--enable-unsafe-webgpu',
  '--use-webgpu-adapter=swiftshader',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--no-default-browser-check',
  '--disable-background-timer-throttling',
  '--disable-backgrounding-occluded-windows',
  '--disable-renderer-backgrounding',
];
