// `--baseline REF`: another commit of panelshot, built in a temporary git worktree, so one
// bench run can put this build and that one side by side on the same machine, stand-in and
// panels. The worktree shares this checkout's node_modules (a symlink) and is removed after.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

export interface Baseline {
  ref: string;
  /** The short commit the ref named, for the report. */
  commit: string;
  main: string;
  remove(): void;
}

export function buildBaseline(ref: string): Baseline {
  const commit = execFileSync('git', ['rev-parse', '--short', `${ref}^{commit}`], { cwd: ROOT, encoding: 'utf8' }).trim();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'panelshot-baseline-'));
  const remove = () => {
    execFileSync('git', ['worktree', 'remove', '--force', dir], { cwd: ROOT, stdio: 'ignore' });
    fs.rmSync(dir, { recursive: true, force: true });
  };
  execFileSync('git', ['worktree', 'add', '--detach', '--force', dir, commit], { cwd: ROOT, stdio: 'ignore' });
  try {
    // Old commits tracked node_modules/: replace it, so both builds run on the same packages.
    fs.rmSync(path.join(dir, 'node_modules'), { recursive: true, force: true });
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: dir, stdio: 'inherit' });
  } catch (e) {
    remove();
    throw e;
  }
  return { ref, commit, main: path.join(dir, 'dist/main.js'), remove };
}
