/** Errors of the lab, each with a stable `code`. */
import { CodedError } from '@peerbench/protocol';

export type NetlabErrorCode =
  | 'unavailable' // not root, or `ip netns` / `nft` / `turnserver` / python3 missing
  | 'command-failed' // a command of ours exited non-zero
  | 'timeout' // something we waited for did not happen within its bound
  | 'invalid-argument'
  | 'destroyed'; // the lab was already torn down

export class NetlabError extends CodedError<NetlabErrorCode> {
  override readonly name = 'NetlabError';
}
