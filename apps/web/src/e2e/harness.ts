/**
 * The e2e build's one test page (e2e-pages/harness.html): `?page=` picks the
 * harness it loads, which puts its API on `window` for the Playwright specs.
 * Only in the e2e build (vite --mode e2e).
 */

interface HarnessPage {
  title: string;
  /** What the harness puts on window, shown on the page. */
  exposes: string;
  load(): Promise<unknown>;
}

const PAGES: Record<string, HarnessPage> = {
  ledger: {
    title: 'ledger replay',
    exposes: 'window.peerbenchLedger.replay(chainJson)',
    load: () => import('./ledger-page.js'),
  },
  mesh: { title: 'WebRTC mesh', exposes: 'window.peerbenchMesh', load: () => import('./mesh-page.js') },
  train: {
    title: 'training harness',
    exposes: 'window.peerbenchTrain',
    load: () => import('./train-page.js'),
  },
};

const name = new URLSearchParams(location.search).get('page') ?? '';
const page = PAGES[name];
const about = document.getElementById('about')!;
if (page) {
  document.title = `peerbench e2e: ${page.title}`;
  about.textContent = `Test page (e2e build only): exposes ${page.exposes}.`;
  void page.load();
} else {
  about.textContent = `Unknown ?page=${name}; one of: ${Object.keys(PAGES).join(', ')}.`;
}
