/**
 * Adapter from the WebRTC mesh (PeerMesh, its RPC layer) to the
 * ExpertNetwork the trainer uses. It only maps names: forward/backward become
 * two RPC methods with the request id in `meta`, RpcError codes pass through
 * unchanged, and every request an expert receives is validated before it
 * reaches the model.
 */
import { EXPERT_BACKWARD_METHOD, EXPERT_FORWARD_METHOD } from '@peerbench/protocol';
import * as v from 'valibot';
import type { Neighbourhood } from './neighbourhood.js';
import {
  type BackwardOptions,
  ExpertError,
  type ExpertHandlers,
  type ExpertNetwork,
  type ForwardOptions,
  type NetworkEvent,
  toExpertError,
  type WireDtype,
  type WireTensor,
} from './network.js';

export type MeshMeta = Record<string, string | number>;

export interface MeshRequestOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  wireDtype?: WireDtype;
  meta?: MeshMeta;
}

export interface MeshHandlerContext {
  from: string;
  signal: AbortSignal;
  meta?: MeshMeta;
}

/** The part of PeerMesh this adapter uses (structural, so a fake can stand in). */
export interface MeshLike {
  request(
    peerId: string,
    method: string,
    tensors: WireTensor[],
    opts?: MeshRequestOptions,
  ): Promise<WireTensor[]>;
  handle(
    method: string,
    handler: (ctx: MeshHandlerContext, tensors: WireTensor[]) => Promise<WireTensor[]>,
  ): unknown;
  connectedPeers(): string[];
  on(event: NetworkEvent, cb: (peerId: string) => void): unknown;
  off?(event: NetworkEvent, cb: (peerId: string) => void): unknown;
  ping(peerId: string): Promise<number>;
  /** PeerMesh with the `neighbourhood` option: the links this peer chooses. */
  readonly neighbourhood?: Neighbourhood | undefined;
}

/** Request ids are short opaque strings chosen by the caller. */
const RequestMeta = v.object({
  rid: v.pipe(v.string(), v.minLength(1), v.maxLength(64)),
});

export class MeshExpertNetwork implements ExpertNetwork {
  /** The mesh's neighbourhood when it has one (bounded links chosen by the neighbour policy). */
  readonly neighbourhood?: Neighbourhood;

  constructor(
    private readonly mesh: MeshLike,
    readonly selfId: string,
  ) {
    if (mesh.neighbourhood) this.neighbourhood = mesh.neighbourhood;
  }

  peers(): string[] {
    return this.mesh.connectedPeers().filter((id) => id !== this.selfId);
  }

  async forward(peerId: string, x: WireTensor, opts: ForwardOptions): Promise<WireTensor> {
    const dtype = opts.wireDtype ?? 'fp32';
    try {
      const out = await this.mesh.request(peerId, EXPERT_FORWARD_METHOD, [x], {
        timeoutMs: opts.timeoutMs,
        ...(opts.signal ? { signal: opts.signal } : {}),
        // The mesh uses one dtype for the request (x) and the answer.
        wireDtype: dtype,
        meta: { rid: opts.requestId },
      });
      const answer = out[0];
      if (!answer || out.length !== 1)
        throw new ExpertError('invalid', `expected 1 tensor, got ${out.length}`);
      return answer;
    } catch (err) {
      throw toExpertError(err);
    }
  }

  async backward(peerId: string, grad: WireTensor, opts: BackwardOptions): Promise<void> {
    try {
      await this.mesh.request(peerId, EXPERT_BACKWARD_METHOD, [grad], {
        timeoutMs: opts.timeoutMs,
        ...(opts.signal ? { signal: opts.signal } : {}),
        wireDtype: opts.wireDtype ?? 'fp32',
        meta: { rid: opts.requestId },
      });
    } catch (err) {
      throw toExpertError(err);
    }
  }

  serve(handlers: ExpertHandlers): () => void {
    let active = true;
    const parse = (ctx: MeshHandlerContext, tensors: WireTensor[]) => {
      if (!active) throw new ExpertError('rejected', 'not serving');
      const meta = v.safeParse(RequestMeta, ctx.meta ?? {});
      if (!meta.success) throw new ExpertError('invalid', 'missing or malformed request id');
      const t = tensors[0];
      if (!t || tensors.length !== 1)
        throw new ExpertError('invalid', `expected 1 tensor, got ${tensors.length}`);
      return { rid: meta.output.rid, t };
    };
    const unForward = this.mesh.handle(EXPERT_FORWARD_METHOD, async (ctx, tensors) => {
      const { rid, t } = parse(ctx, tensors);
      return [await handlers.forward(ctx.from, rid, t, ctx.signal)];
    });
    const unBackward = this.mesh.handle(EXPERT_BACKWARD_METHOD, async (ctx, tensors) => {
      const { rid, t } = parse(ctx, tensors);
      await handlers.backward(ctx.from, rid, t, ctx.signal);
      return [];
    });
    return () => {
      active = false;
      if (typeof unForward === 'function') unForward();
      if (typeof unBackward === 'function') unBackward();
    };
  }

  ping(peerId: string): Promise<number> {
    return this.mesh.ping(peerId);
  }

  on(event: NetworkEvent, cb: (peerId: string) => void): () => void {
    const off = this.mesh.on(event, cb);
    return () => {
      if (typeof off === 'function') off();
      else this.mesh.off?.(event, cb);
    };
  }
}
