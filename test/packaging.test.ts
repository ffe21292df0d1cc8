// resnets as a dependency, as a user gets it: `npm pack` (which builds dist/ and checks the
// addon), the tarball installed into a fresh project without the network, imported from
// TypeScript under --strict (the README's examples included), from plain Node as ESM and
// through require(), and `npx resnets list`. Then `npm install <folder>`, which must not
// rebuild anything in the source tree, and the install step's message when libtorch is missing.
//
// Offline: the temporary project gets a lock file made from this project's own (the
// tarball's dependencies at the versions resnets is tested with), so `npm ci --offline`
// needs no registry metadata and takes every dependency from npm's cache, which the
// project's own `npm ci` filled. Only when that cache lacks a tarball does it fall back to
// `--prefer-offline`, which asks the registry for what is missing.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { tempDir } from './helpers/python.js';

const execFileAsync = promisify(execFile);
const root = resolve('.');
const temp = tempDir('resnets-pack-');
after(() => temp.cleanup());

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function sh(command: string, args: string[], cwd: string, env: Record<string, string> = {}): Promise<Result> {
  try {
    const { stdout, stderr } = await execFileAsync(command, args, {
      cwd,
      env: { ...process.env, RESNETS_NUM_THREADS: '1', npm_config_update_notifier: 'false', ...env },
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    if (typeof failed.code !== 'number') throw error;
    return { code: failed.code, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

function ok(result: Result, what: string): Result {
  assert.equal(result.code, 0, `${what} failed:\n${result.stdout}\n${result.stderr}`);
  return result;
}

/** A project depending on `spec`, locked to this project's versions of the dependencies. */
function writeConsumer(dir: string, spec: string, tarball: string): void {
  const own = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
  const integrity = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
  const packages: Record<string, unknown> = {
    '': { name: 'consumer', version: '1.0.0', dependencies: { resnets: spec } },
    'node_modules/resnets': {
      version: own.version,
      resolved: spec,
      integrity,
      hasInstallScript: true,
      license: own.license,
      dependencies: own.dependencies,
      bin: own.bin,
      engines: own.engines,
    },
  };
  for (const [path, entry] of Object.entries(lock.packages as Record<string, { dev?: boolean }>)) {
    if (path !== '' && !entry.dev) packages[path] = entry;
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module', dependencies: { resnets: spec } }, null, 2));
  writeFileSync(join(dir, 'package-lock.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', lockfileVersion: 3, requires: true, packages }, null, 2));
}

/** The ```ts blocks of the README, each a module of its own. */
function readmeExamples(): string[] {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  return [...readme.matchAll(/^```ts\n([\s\S]*?)^```/gm)].map((match) => match[1]);
}

describe('resnets as a dependency', { timeout: 300_000 }, () => {
  const consumer = join(temp.path, 'consumer');
  let tarball = '';

  before(async () => {
    const packed = ok(await sh('npm', ['pack', '--json', '--pack-destination', temp.path], root), 'npm pack');
    const [{ filename }] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('[')));
    tarball = join(temp.path, filename);
    writeConsumer(consumer, `file:${tarball}`, tarball);
    const flags = ['ci', '--no-audit', '--no-fund'];
    let install = await sh('npm', [...flags, '--offline'], consumer);
    if (install.code !== 0 && /ENOTCACHED/.test(install.stderr)) {
      process.stderr.write("packaging test: npm's cache lacks a dependency's tarball; asking the registry (--prefer-offline)\n");
      install = await sh('npm', [...flags, '--prefer-offline'], consumer);
    }
    ok(install, 'npm ci of the packed tarball');
  });

  it('the tarball holds the build, the addon and its sources, and nothing else of the repository', async () => {
    const listing = ok(await sh('tar', ['tzf', tarball], temp.path), 'tar').stdout.split('\n');
    for (const file of ['dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'bin/resnets.js', 'build/Release/resnets.node', 'binding.gyp', 'native/common.h', 'scripts/install-addon.cjs']) {
      assert.ok(listing.includes(`package/${file}`), `${file} is packed`);
    }
    for (const prefix of ['package/src/', 'package/test/', 'package/node_modules/', 'package/build/Release/obj']) {
      assert.ok(!listing.some((file) => file.startsWith(prefix)), `nothing under ${prefix}`);
    }
  });

  it('compiles against the package under tsc --strict, README examples included', async () => {
    const sources = ['index.ts'];
    writeFileSync(
      join(consumer, 'index.ts'),
      [
        "import { createModel, io, nn, torch, type models } from 'resnets';",
        "const model: models.ImageClassifier = createModel('resnet18', { numClasses: 3 });",
        'const logits: torch.Tensor = torch.noGrad(() => model.call(torch.randn([1, 3, 64, 64])));',
        "const head: nn.Module<unknown, unknown> | undefined = model.getSubmodule('fc');",
        'const saved: Record<string, torch.Tensor> = model.stateDict();',
        'export const facts = [logits.shape, head, Object.keys(saved).length, typeof io.load];',
      ].join('\n'),
    );
    readmeExamples().forEach((code, i) => {
      sources.push(`readme-${i}.ts`);
      writeFileSync(join(consumer, `readme-${i}.ts`), `${code}\nexport {};\n`);
    });
    const tsconfig = {
      compilerOptions: {
        strict: true,
        noEmit: true,
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        types: ['node'],
        typeRoots: [join(root, 'node_modules', '@types')],
      },
      files: sources,
    };
    writeFileSync(join(consumer, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2));
    ok(await sh(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], consumer), 'tsc --strict');
  });

  it('imports as ESM and through require() from plain Node', async () => {
    const program = (load: string) =>
      `${load}\nconst model = createModel('resnet18', { numClasses: 3 }).eval();\n` +
      'const y = torch.noGrad(() => model.call(torch.randn([1, 3, 32, 32])));\n' +
      'console.log(JSON.stringify({ shape: y.shape, parameters: model.countParameters() }));\n';
    writeFileSync(join(consumer, 'esm.mjs'), program("import { createModel, torch } from 'resnets';"));
    writeFileSync(join(consumer, 'cjs.cjs'), program("const { createModel, torch } = require('resnets');"));
    for (const file of ['esm.mjs', 'cjs.cjs']) {
      const { stdout } = ok(await sh(process.execPath, [file], consumer), file);
      assert.deepEqual(JSON.parse(stdout), { shape: [1, 3], parameters: 11_178_051 }, file);
    }
  });

  it('npx resnets list runs the installed command', async () => {
    const { stdout } = ok(await sh('npx', ['--offline', '--no-install', 'resnets', 'list'], consumer), 'npx resnets list');
    assert.match(stdout, /^resnet18\s+resnet\s+11,689,512/m);
  });

  it('the install step names what to install when libtorch is missing', async () => {
    const script = join(consumer, 'node_modules', 'resnets', 'scripts', 'install-addon.cjs');
    const result = await sh(process.execPath, [script], consumer, { RESNETS_BUILD_FROM_SOURCE: '1', LIBTORCH: join(temp.path, 'no-libtorch') });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /libtorch's C\+\+ headers are missing from LIBTORCH=.*no-libtorch/);
    assert.match(result.stderr, /apt-get install libtorch-dev/);
  });

  it('npm install <folder> links the source tree and compiles nothing there', async () => {
    const addon = join(root, 'build', 'Release', 'resnets.node');
    const before = statSync(addon).mtimeMs;
    const linked = join(temp.path, 'linked');
    mkdirSync(linked);
    writeFileSync(join(linked, 'package.json'), JSON.stringify({ name: 'linked', version: '1.0.0', private: true }));
    const install = ok(await sh('npm', ['install', '--offline', '--no-audit', '--no-fund', root], linked), 'npm install <folder>');
    assert.doesNotMatch(install.stdout + install.stderr, /building the native addon/);
    assert.equal(statSync(addon).mtimeMs, before, 'the addon in the source tree is untouched');
    assert.ok(readdirSync(join(linked, 'node_modules')).includes('resnets'));
    const { stdout } = ok(await sh('npx', ['--offline', '--no-install', 'resnets', 'list', 'resnet18'], linked), 'npx resnets list in the linked project');
    assert.match(stdout, /resnet18/);
  });
});
