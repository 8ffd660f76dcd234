// The PSS sampler's own process (see PssSampler in memory.ts): argv = <panelshot pid>
// <interval ms>. Sends one sample per interval to the parent and a last one on "stop".
import { samplePss } from './memory';

const ownerPid = Number(process.argv[2]);
const intervalMs = Number(process.argv[3]);

function sample(): void {
  const t = performance.now();
  const s = samplePss(ownerPid);
  process.send!({ ...s, ms: performance.now() - t });
}

sample();
const timer = setInterval(sample, intervalMs);
process.on('message', () => {
  clearInterval(timer);
  sample();
  process.disconnect();
});
// The bench died: do not sample forever.
process.on('disconnect', () => clearInterval(timer));
