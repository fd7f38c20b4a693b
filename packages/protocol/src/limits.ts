/**
 * Every size, count and time limit of the peer RPC wire, in one place so the
 * README, the encoder, the reassembler and the mesh agree. Units are in names.
 */

/** Largest frame handed to a data channel (header + chunk). 16 KiB is the size every WebRTC stack delivers unfragmented. */
export const MAX_FRAME_BYTES = 16 * 1024;
/** Fixed binary header in front of every frame (see frames.ts). */
export const FRAME_HEADER_BYTES = 16;
/** Message bytes carried by one full frame. */
export const FRAME_CHUNK_BYTES = MAX_FRAME_BYTES - FRAME_HEADER_BYTES;

/** Largest JSON header of one RPC message, in UTF-8 bytes. */
export const MAX_HEADER_BYTES = 4 * 1024;
/** Largest single tensor on the wire (its encoded payload), in bytes. */
export const MAX_TENSOR_BYTES = 16 * 1024 * 1024;
/** Largest RPC message (length prefix + header + all tensor payloads), in bytes. */
export const MAX_MESSAGE_BYTES = 32 * 1024 * 1024;
/** Most tensors in one request or response. */
export const MAX_TENSORS_PER_MESSAGE = 16;
/** Most dimensions of one tensor. */
export const MAX_TENSOR_DIMS = 8;
/** Longest method name. */
export const MAX_METHOD_CHARS = 64;
/** Most entries in a request's `meta` record. */
export const MAX_META_ENTRIES = 16;
/** Longest `meta` key. */
export const MAX_META_KEY_CHARS = 64;
/** Longest `meta` string value. */
export const MAX_META_VALUE_CHARS = 256;
/** Longest error message carried by an `error` frame. */
export const MAX_ERROR_MESSAGE_CHARS = 1024;
/** Request ids are u32, never 0. */
export const MAX_REQUEST_ID = 0xffff_ffff;

/** Most partially received messages kept per peer link; one more is rejected. */
export const MAX_INFLIGHT_PARTIAL_MESSAGES = 8;
/** A partial message that received no frame for this long is dropped. */
export const PARTIAL_MESSAGE_TIMEOUT_MS = 30_000;
/** Bytes held in partial messages per link, all messages together (bytes received, not announced). */
export const MAX_PARTIAL_BYTES_PER_LINK = 64 * 1024 * 1024;
/** Bytes held in partial messages by all the links of one peer together (a shared ReassemblyBudget). */
export const MAX_PARTIAL_BYTES_TOTAL = 128 * 1024 * 1024;

/** Default deadline of any request that names none. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
