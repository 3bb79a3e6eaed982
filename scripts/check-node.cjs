// Run first by the npm scripts that start TypeScript: on a Node.js older than 22.12 (no type stripping)
// they would die with a stack trace about ".ts". Prints one line saying what to do and exits 1 instead.
// Plain old JavaScript on purpose: it has to run on whatever Node is there.
var fs = require('fs');
var path = require('path');

var v = process.versions.node.split('.').map(Number);
if (v[0] > 22 || (v[0] === 22 && v[1] >= 12)) process.exit(0);

// npm install brings Node 24 (the optional dependency node-<os>-<cpu>) into node_modules/.bin, and npm
// scripts run that one; it exists for these platforms.
var platform = process.platform + '-' + process.arch;
var bundled = { 'linux-x64': 1, 'linux-arm64': 1, 'darwin-x64': 1, 'win32-x64': 1 }[platform];
var modules = path.join(__dirname, '..', 'node_modules');
var bin = path.join(modules, '.bin', process.platform === 'win32' ? 'node.cmd' : 'node');
// npm before 11.6.2 installs the runtime but then deletes its node_modules/.bin/node link while it drops
// the other platforms' packages, which link the same name (npm/cli#4362).
var npm = /^npm\/(\d+)\.(\d+)\.(\d+)/.exec(process.env.npm_config_user_agent || '');
var oldNpm = npm && (+npm[1] < 11 || (+npm[1] === 11 && (+npm[2] < 6 || (+npm[2] === 6 && +npm[3] < 2))));
var fix;
if (!bundled) {
  fix = 'npm install brings no Node 24 for ' + platform + '; install Node.js >= 22.12 (24 LTS: https://nodejs.org) and run npm install again';
} else if (oldNpm && !fs.existsSync(bin)) {
  fix =
    'npm ' +
    npm[0].slice(4) +
    ' does not link the Node 24 it installs into node_modules/.bin; update npm ("npm install -g npm@11", needs >= 11.6.2) and run npm install again';
} else if (fs.existsSync(bin)) {
  fix = 'start things with "npm run <script>" (npm scripts use the Node 24 in node_modules/.bin), or put node_modules/.bin first on PATH';
} else {
  fix = 'run "npm install" (without --omit=optional or --no-optional): it brings Node 24 into node_modules/.bin for the npm scripts';
}
console.error('Catch-up Sync needs Node.js >= 22.12 (this is ' + process.versions.node + ' at ' + process.execPath + '): ' + fix + '.');
process.exit(1);
