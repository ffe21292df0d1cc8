// Garbage collection on demand for tests that count live tensors: tensors nobody
// disposed are freed by the collector (their finalizer runs during collection), so a
// count taken while earlier tests' garbage waits for a collection could drop later for
// reasons unrelated to the code under test. Counting after a full collection removes them.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { torch } from '../../src/index.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Live tensors once every unreachable one has been collected. */
export function liveTensorsAfterCollection(): number {
  gc();
  return torch.memory().liveTensors;
}
