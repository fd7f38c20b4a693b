import { parentPort, workerData } from 'node:worker_threads';
import { BatchNashSolver } from './batch.js';
import { type SweepJobSpec, type SweepToWorker, solveSweepWorld, type WorkerToSweep } from './sweep.js';

/** Worker thread of `runFig4Sweep`: solves the jobs (a world at some ratios) it is handed, one at a time. */
const port = parentPort;
if (!port) throw new Error('sweep-worker must run in a worker thread');
const spec = workerData as SweepJobSpec;
const solver = new BatchNashSolver(spec.n, spec.ratios.length, spec.kernel);
const send = (msg: WorkerToSweep) => port.postMessage(msg);
port.on('message', (msg: SweepToWorker) => {
  if (msg.type === 'stop') {
    port.close();
    return;
  }
  try {
    solveSweepWorld(
      spec,
      msg.trial,
      solver,
      (ratioIndex, result) => send({ type: 'lane', trial: msg.trial, ratioIndex, result }),
      msg.ratioIndices,
    );
    send({ type: 'done' });
  } catch (err) {
    send({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  }
});
