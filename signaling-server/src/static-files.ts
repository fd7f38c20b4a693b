/**
 * Serves the built web app (Vite's dist/) from one directory: correct content
 * types, index.html for client-side routes, and no way out of the directory
 * (`..`, encoded `..`, NUL bytes, dotfiles and symlinks pointing outside are
 * all refused).
 */
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, isAbsolute, join, relative, resolve, sep } from 'node:path';

export const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.bin': 'application/octet-stream',
};
const DEFAULT_CONTENT_TYPE = 'application/octet-stream';
/** Vite puts content-hashed files under /assets/, so they never change. */
const IMMUTABLE_PREFIX = '/assets/';
const IMMUTABLE_MAX_AGE_S = 365 * 24 * 3600;

export type StaticResult = 'served' | 'not-found' | 'forbidden' | 'bad-request';

export class StaticFiles {
  private rootReal: string | undefined;

  constructor(private readonly root: string) {}

  /** Resolves the root once (it must exist) so later checks compare real paths. */
  async init(): Promise<void> {
    this.rootReal = await realpath(resolve(this.root));
    const s = await stat(this.rootReal);
    if (!s.isDirectory()) throw new Error(`static dir ${this.root} is not a directory`);
  }

  /** Answers GET/HEAD for `pathname`; does not write a response unless 'served'. */
  async serve(pathname: string, req: IncomingMessage, res: ServerResponse): Promise<StaticResult> {
    const root = this.rootReal;
    if (root === undefined) throw new Error('StaticFiles.init() was not awaited');
    let decoded: string;
    try {
      decoded = decodeURIComponent(pathname);
    } catch {
      return 'bad-request';
    }
    if (decoded.includes('\0') || decoded.includes('\\')) return 'bad-request';
    const segments = decoded.split('/').filter((s) => s.length > 0);
    // `..` is refused outright rather than normalised away: no legitimate
    // link into the app contains it. Dotfiles (.env, .git) are never served.
    if (segments.some((s) => s === '..' || s.startsWith('.'))) return 'forbidden';

    const candidate = resolve(root, ...segments);
    if (!inside(root, candidate)) return 'forbidden';
    const file = await this.findFile(root, candidate);
    if (file) return this.send(file, pathname, req, res);

    // A client-side route (no file extension) gets the app shell; a missing
    // asset (with an extension) stays a 404 so broken builds are visible.
    const last = segments.at(-1) ?? '';
    if (extname(last) === '') {
      const index = await this.findFile(root, join(root, 'index.html'));
      if (index) return this.send(index, '/index.html', req, res);
    }
    return 'not-found';
  }

  /** The real path of a regular file at `path` (or its index.html), inside root. */
  private async findFile(root: string, path: string): Promise<string | undefined> {
    try {
      let real = await realpath(path);
      if (!inside(root, real)) return undefined;
      let s = await stat(real);
      if (s.isDirectory()) {
        real = await realpath(join(real, 'index.html'));
        if (!inside(root, real)) return undefined;
        s = await stat(real);
      }
      return s.isFile() ? real : undefined;
    } catch {
      return undefined;
    }
  }

  private async send(
    file: string,
    pathname: string,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<StaticResult> {
    const s = await stat(file);
    const type = CONTENT_TYPES[extname(file).toLowerCase()] ?? DEFAULT_CONTENT_TYPE;
    res.statusCode = 200;
    res.setHeader('Content-Type', type);
    res.setHeader('Content-Length', s.size);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader(
      'Cache-Control',
      pathname.startsWith(IMMUTABLE_PREFIX)
        ? `public, max-age=${IMMUTABLE_MAX_AGE_S}, immutable`
        : 'no-cache',
    );
    // Cross-origin isolation lets tfjs's WASM backend use threads
    // (SharedArrayBuffer); the app loads nothing from other origins.
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
    if (req.method === 'HEAD') {
      res.end();
      return 'served';
    }
    await new Promise<void>((resolveDone) => {
      const stream = createReadStream(file);
      stream.on('error', () => {
        res.destroy();
        resolveDone();
      });
      res.on('close', () => {
        stream.destroy();
        resolveDone();
      });
      stream.pipe(res);
    });
    return 'served';
  }
}

function inside(root: string, path: string): boolean {
  if (path === root) return true;
  const rel = relative(root, path);
  return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel);
}
