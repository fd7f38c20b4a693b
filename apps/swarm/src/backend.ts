/**
 * tfjs backend for Node: WASM (about 5× faster than the pure-JS CPU backend
 * for these MLPs, see issue 6), falling back to CPU if WASM cannot start.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

export async function initBackend(preferred: 'wasm' | 'cpu' = 'wasm'): Promise<string> {
  if (tf.getBackend() === preferred) return preferred;
  try {
    if (await tf.setBackend(preferred)) {
      await tf.ready();
      return tf.getBackend();
    }
  } catch {
    // fall through to cpu
  }
  await tf.setBackend('cpu');
  await tf.ready();
  return tf.getBackend();
}
