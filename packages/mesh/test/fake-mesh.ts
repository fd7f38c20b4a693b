/**
 * A structural stand-in for PeerMesh's RPC surface (request/handle/ping and
 * membership events), in memory, to test MeshExpertNetwork without WebRTC.
 * Errors carry the mesh's RpcError codes as plain `code` fields.
 */
import type { WireTensor } from '@peerbench/protocol';
import type { MeshHandlerContext, MeshLike, MeshRequestOptions } from '../src/mesh-network.js';

class CodedError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

type Handler = (ctx: MeshHandlerContext, tensors: WireTensor[]) => Promise<WireTensor[]>;

export class FakeMeshHub {
  readonly nodes = new Map<string, FakeMesh>();
  join(id: string): FakeMesh {
    const m = new FakeMesh(this, id);
    this.nodes.set(id, m);
    for (const o of this.nodes.values()) if (o !== m) o.emit('peer-connected', id);
    return m;
  }
  leave(id: string): void {
    this.nodes.delete(id);
    for (const o of this.nodes.values()) o.emit('peer-disconnected', id);
  }
}

export class FakeMesh implements MeshLike {
  readonly handlers = new Map<string, Handler>();
  private readonly listeners = new Map<string, Set<(id: string) => void>>();
  constructor(
    private readonly hub: FakeMeshHub,
    readonly peerId: string,
  ) {}

  async request(peerId: string, method: string, tensors: WireTensor[], opts: MeshRequestOptions = {}) {
    const remote = this.hub.nodes.get(peerId);
    if (!remote) throw new CodedError('peer-gone', 'not connected');
    const handler = remote.handlers.get(method);
    if (!handler) throw new CodedError('rejected', `no handler for ${method}`);
    const controller = new AbortController();
    const copy = tensors.map((t) => ({ shape: t.shape.slice(), data: new Float32Array(t.data) }));
    let timer: ReturnType<typeof setTimeout> | undefined;
    let onAbort: (() => void) | undefined;
    try {
      return await Promise.race([
        handler({ from: this.peerId, signal: controller.signal, meta: opts.meta ?? {} }, copy).catch(
          (err: unknown) => {
            // The mesh reports handler failures as 'rejected' unless the handler used an RpcError code.
            const code = (err as { code?: string }).code;
            throw new CodedError(code === 'invalid' ? 'invalid' : 'rejected', String(err));
          },
        ),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new CodedError('timeout', 'timed out')), opts.timeoutMs ?? 10_000);
          // Like RpcSession: the caller's signal cancels, and its listener goes when the call settles.
          onAbort = () => reject(new CodedError('cancelled', 'aborted'));
          if (opts.signal?.aborted) onAbort();
          else opts.signal?.addEventListener('abort', onAbort, { once: true });
        }),
      ]);
    } finally {
      clearTimeout(timer);
      if (onAbort) opts.signal?.removeEventListener('abort', onAbort);
      controller.abort();
    }
  }

  handle(method: string, handler: Handler): void {
    this.handlers.set(method, handler);
  }

  connectedPeers(): string[] {
    return [...this.hub.nodes.keys()].filter((id) => id !== this.peerId);
  }

  on(event: string, cb: (id: string) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(cb);
    return () => set.delete(cb);
  }

  emit(event: string, id: string): void {
    for (const cb of this.listeners.get(event) ?? []) cb(id);
  }

  async ping(): Promise<number> {
    return 0.1;
  }
}
