export * from './codec.js';
export * from './errors.js';
export * from './fp16.js';
export * from './frames.js';
export * from './identity.js';
export * from './limits.js';
export * from './rpc.js';
export * from './signaling.js';
