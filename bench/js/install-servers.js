// Runs after `npm ci --prefix bench` (the "postinstall" script of bench/package.json): installs the
// real Sails test servers the benchmark lifts (testdata/sails/hook3 and hook2) from their own
// lockfiles, unless their node_modules is already there and newer than the lockfile (as ./test.sh
// does). Set SAILSIO_BENCH_SKIP_SERVERS=1 to skip this step.
'use strict';

var fs = require('fs');
var path = require('path');
var childProcess = require('child_process');

if (process.env.SAILSIO_BENCH_SKIP_SERVERS === '1') {
  process.exit(0);
}

var root = path.resolve(__dirname, '..', '..');
var hooks = ['hook3', 'hook2'];
var npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function mtime(p) {
  try {
    return fs.statSync(p).mtimeMs;
  } catch (e) {
    return -1;
  }
}

hooks.forEach(function (hook) {
  var rel = path.join('testdata', 'sails', hook);
  var dir = path.join(root, rel);
  var lock = path.join(dir, 'package-lock.json');
  var modules = path.join(dir, 'node_modules');
  if (mtime(lock) < 0) {
    console.error('install-servers: ' + lock + ' is missing');
    process.exit(1);
  }
  if (mtime(modules) >= mtime(lock) && fs.existsSync(path.join(modules, 'sails', 'package.json'))) {
    return;
  }
  console.log('install-servers: npm ci --prefix ' + rel);
  var r = childProcess.spawnSync(npm, ['ci', '--prefix', dir, '--no-audit', '--no-fund', '--loglevel=error'], {
    stdio: 'inherit'
  });
  if (r.error || r.status !== 0) {
    console.error('install-servers: npm ci in ' + rel + ' failed' + (r.error ? ': ' + r.error.message : ''));
    process.exit(1);
  }
  var now = new Date();
  fs.utimesSync(modules, now, now);
});
