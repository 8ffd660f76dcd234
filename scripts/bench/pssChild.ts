// The PSS sampler's own process (see PssSampler in memory.ts): argv = <panelshot pid>
// <interval ms> <exact|incremental> (see TreePss). Sends one sample per interval to the parent and a last one on "stop".
// Samples start on a fixed grid (t0 + n × interval): a slow sample does not push the
// following ones back; a sample that overran its slot skips to the next free one.
import { samplePss, TreePss } from './memory';

const ownerPid = Number(process.argv[2]);
const intervalMs = Number(process.argv[3]);
const tree = new TreePss(ownerPid);
const take = process.argv[4] === 'exact' ? () => samplePss(ownerPid) : () => tree.sample();
const t0 = performance.now();
let n = 0;
let timer: NodeJS.Timeout | undefined;
let stopped = false;

function tick(): void {
  if (stopped) return;
  process.send!(take());
  n = Math.max(n + 1, Math.ceil((performance.now() - t0) / intervalMs));
  timer = setTimeout(tick, Math.max(0, t0 + n * intervalMs - performance.now()));
}

tick();
process.on('message', () => {
  stopped = true;
  clearTimeout(timer);
  process.send!(take());
  process.disconnect();
});
// The bench died: do not sample forever.
process.on('disconnect', () => {
  stopped = true;
  clearTimeout(timer);
});
