export * from './signaling.js';
