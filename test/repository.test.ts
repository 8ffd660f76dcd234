// The repository holds source only: dependencies and build output belong to the machine
// (npm ci, npm run build), never to git. Runs on the clone CI tests.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';

test('nothing under node_modules/, dist/ or out/ is tracked by git', () => {
  const root = path.resolve(__dirname, '..');
  const tracked = execFileSync('git', ['ls-files', '--', 'node_modules', 'dist', 'out', 'bench-results'], { cwd: root, encoding: 'utf8' })
    .split('\n')
    .filter(Boolean);
  assert.deepEqual(tracked.slice(0, 5), [], `${tracked.length} files are tracked that must not be (git rm -r --cached them)`);
  // The check itself must see the repository: a tracked source file is listed.
  assert.ok(execFileSync('git', ['ls-files', '--', 'package.json'], { cwd: root, encoding: 'utf8' }).includes('package.json'));
});
