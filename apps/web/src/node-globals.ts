/**
 * Node globals that simple-peer and readable-stream expect in the browser
 * (see nodeShims in vite.config.ts). Imported first by every entry that can
 * load the mesh, so they exist before those modules run.
 */
// biome-ignore lint/style/useNodejsImportProtocol: the browser package of that name (aliased in vite.config.ts), not Node's module
import { Buffer } from 'buffer';
import process from 'process';

const g = globalThis as unknown as { process?: unknown; Buffer?: unknown };
g.process ??= process;
g.Buffer ??= Buffer;
