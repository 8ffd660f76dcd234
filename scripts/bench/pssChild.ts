// The PSS sampler's own process (see PssSampler in memory.ts): argv = <panelshot pid>
// <interval ms> <exact|incremental> (see TreePss). Sends one sample per interval to the
// parent and a last one on "stop".
// Samples start on a fixed grid (t0 + n × interval): a slow sample does not push the
// following ones back; a sample that overran its slot skips to the next free one.
import { samplePss, treeSampler } from './memory';

const ownerPid = Number(process.argv[2]);
const intervalMs = Number(process.argv[3]);
const take = process.argv[4] === 'exact' ? async () => samplePss(ownerPid) : treeSampler(ownerPid);
const t0 = performance.now();
let n = 0;
let timer: NodeJS.Timeout | undefined;
let stopped = false;

async function tick(): Promise<void> {
  if (stopped) return;
  const sample = await take();
  if (stopped) return; // "stop" came meanwhile and sends the last one
  process.send!(sample);
  n = Math.max(n + 1, Math.ceil((performance.now() - t0) / intervalMs));
  timer = setTimeout(() => void tick(), Math.max(0, t0 + n * intervalMs - performance.now()));
}

void tick();
process.on('message', async () => {
  stopped = true;
  clearTimeout(timer);
  process.send!(await take());
  process.disconnect();
});
// The bench died: do not sample forever.
process.on('disconnect', () => {
  stopped = true;
  clearTimeout(timer);
});
