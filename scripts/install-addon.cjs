#!/usr/bin/env node
// The package's install step: makes sure build/Release/resnets.node exists and loads,
// building only the addon, here in the package's own folder, against the system libtorch
// (or LIBTORCH=/path). A tarball ships the addon built when it was packed; it is kept when
// it loads against this machine's libtorch and is not older than the C++ sources, so
// installs from a tarball or a folder compile nothing. RESNETS_BUILD_FROM_SOURCE=1 forces
// a build. CommonJS so that it runs before anything is compiled.
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync, readdirSync, statSync } = require('node:fs');
const { dirname, join } = require('node:path');

const root = join(__dirname, '..');
const addon = join(root, 'build', 'Release', 'resnets.node');
const say = (line) => process.stdout.write(`resnets: ${line}\n`);

function newestSource() {
  const files = [join(root, 'binding.gyp'), ...readdirSync(join(root, 'native')).map((name) => join(root, 'native', name))];
  return Math.max(...files.filter((file) => existsSync(file)).map((file) => statSync(file).mtimeMs));
}

/** The reason the built addon cannot be used, or '' when it loads. */
function addonProblem() {
  if (!existsSync(addon)) return 'not built yet';
  if (statSync(addon).mtimeMs < newestSource()) return 'older than the C++ sources';
  // In a child process: a failed dlopen must not take this script with it.
  const probe = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(addon)})`], { encoding: 'utf8' });
  if (probe.status === 0) return '';
  const firstLine = (probe.stderr || '').split('\n').find((line) => /Error|cannot open/.test(line)) || `exit ${probe.status}`;
  return `does not load here (${firstLine.trim()})`;
}

/** Where libtorch's C++ headers must be, for the default build or LIBTORCH=/path. */
function libtorchHeader() {
  const base = process.env.LIBTORCH ? join(process.env.LIBTORCH, 'include') : '/usr/include';
  return join(base, 'torch', 'csrc', 'api', 'include', 'torch', 'torch.h');
}

function nodeGypCommand() {
  // npm hands its bundled node-gyp to install scripts; a consumer need not install one.
  if (process.env.npm_config_node_gyp && existsSync(process.env.npm_config_node_gyp)) return process.env.npm_config_node_gyp;
  try {
    return require.resolve('node-gyp/bin/node-gyp.js', { paths: [root] });
  } catch {
    return undefined;
  }
}

function build(reason) {
  const header = libtorchHeader();
  if (!existsSync(header)) {
    const where = process.env.LIBTORCH ? `LIBTORCH=${process.env.LIBTORCH}` : 'the system';
    process.stderr.write(
      `resnets: cannot build the native addon: libtorch's C++ headers are missing from ${where} (${header} not found).\n` +
        `  On Debian 12 or Ubuntu: sudo apt-get install libtorch-dev libopenblas0-openmp g++ make python3\n` +
        `  Or point LIBTORCH at an unpacked libtorch (for example a CUDA build): LIBTORCH=/opt/libtorch npm install resnets\n`,
    );
    process.exit(1);
  }
  const gyp = nodeGypCommand();
  if (!gyp) {
    process.stderr.write("resnets: cannot build the native addon: node-gyp was not found (run the install through npm, which provides it)\n");
    process.exit(1);
  }
  const args = [gyp, 'rebuild', '-j', process.env.RESNETS_BUILD_JOBS || '2'];
  // Node's own headers next to the node binary (Debian's nodejs installs them) keep the
  // build offline; otherwise node-gyp uses npm's nodedir setting or downloads them.
  const prefix = dirname(dirname(process.execPath));
  if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);
  say(`building the native addon against ${process.env.LIBTORCH || 'the system libtorch'} (${reason}); this takes a few minutes`);
  const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    process.stderr.write(`resnets: building the native addon failed (node-gyp exited with ${result.status ?? result.signal}); see the compiler output above\n`);
    process.exit(1);
  }
  const after = addonProblem();
  if (after) {
    process.stderr.write(`resnets: the addon was built but ${after}\n`);
    process.exit(1);
  }
}

const forced = process.env.RESNETS_BUILD_FROM_SOURCE === '1';
const problem = forced ? 'RESNETS_BUILD_FROM_SOURCE=1' : addonProblem();
if (problem) build(problem);
else say('the native addon is built and loads; nothing to compile');
