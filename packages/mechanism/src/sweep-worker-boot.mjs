// Worker entry of runFig4Sweep: loads the TypeScript worker through tsx (see sweep.ts).
import { tsImport } from 'tsx/esm/api';

await tsImport('./sweep-worker.ts', import.meta.url);
