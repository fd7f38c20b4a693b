export * from './env.js';
export * from './metrics.js';
export * from './server.js';
export { CONTENT_TYPES, StaticFiles } from './static-files.js';
export { TokenBucket } from './token-bucket.js';
export * from './turn-credentials.js';
