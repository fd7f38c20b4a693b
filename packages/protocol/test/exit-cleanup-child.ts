/**
 * A process for exit-cleanup.test.ts: registers three clean-ups that append
 * their name to the file given as argv[2], takes the second back, says
 * "ready", then exits normally (argv[3] = 'exit') or waits for a signal.
 */
import { appendFileSync } from 'node:fs';
import { cleanUpOnExit } from '../src/exit-cleanup.js';

const [file, how] = process.argv.slice(2) as [string, string];
cleanUpOnExit(() => appendFileSync(file, 'first\n'));
const takeBack = cleanUpOnExit(() => appendFileSync(file, 'taken back\n'));
cleanUpOnExit(() => {
  appendFileSync(file, 'last\n');
  throw new Error('a failing clean-up does not stop the others');
});
takeBack();
process.stdout.write('ready\n');
if (how === 'exit') process.exit(0);
else setInterval(() => {}, 60_000);
