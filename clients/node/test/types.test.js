'use strict';
// The shipped declarations (index.d.ts) compile against a usage of the API,
// and reject a misuse (test/types/usage.ts has a @ts-expect-error).
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

test('index.d.ts describes the API (tsc --noEmit, strict)', () => {
  const tsc = require.resolve('typescript/bin/tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', path.join(__dirname, 'types', 'tsconfig.json')], { encoding: 'utf8' });
  } catch (e) {
    assert.fail(`tsc failed:\n${e.stdout}${e.stderr}`);
  }
});

test('every export declared is exported', () => {
  const declared = require('node:fs').readFileSync(path.join(__dirname, '..', 'index.d.ts'), 'utf8')
    .match(/^export (?:class|function|const) (\w+)/gm).map((s) => s.split(' ').pop());
  const actual = Object.keys(require('..'));
  assert.deepEqual([...declared].sort(), [...actual].sort());
});
