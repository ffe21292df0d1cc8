// The typed addon interface (src/native-api.ts) matches the addon: one member per entry
// point, grouped under the C++ file that defines it, nothing missing or extra; and
// importing the package leaves libtorch's thread count alone.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { native, packageRoot } from '../src/native.js';

/** Entry points each native/*.cc file registers (RN_FN and the RN_UNARY shorthand). */
function entryPointsByFile(): Map<string, string[]> {
  const byFile = new Map<string, string[]>();
  for (const file of readdirSync(join(packageRoot, 'native')).filter((name) => name.endsWith('.cc'))) {
    const source = readFileSync(join(packageRoot, 'native', file), 'utf8');
    const names = [...source.matchAll(/RN_FN\(exports, env, "(\w+)"|RN_UNARY\("(\w+)"/g)].map((m) => m[1] ?? m[2]);
    if (names.length > 0) byFile.set(`native/${file}`, names.sort());
  }
  return byFile;
}

/** Members of the NativeAddon interface under each `// native/<file>.cc` heading. */
function interfaceByFile(): Map<string, string[]> {
  const source = readFileSync(join(packageRoot, 'src', 'native-api.ts'), 'utf8');
  const body = source.slice(source.indexOf('export interface NativeAddon {'));
  const byFile = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of body.split('\n')) {
    const heading = /^\s*\/\/ (native\/\w+\.cc)/.exec(line);
    if (heading) byFile.set(heading[1], (current = []));
    const member = /^  (\w+)\(/.exec(line);
    if (member) {
      assert.ok(current, `${member[1]} comes before any '// native/<file>.cc' heading`);
      current.push(member[1]);
    }
  }
  for (const names of byFile.values()) names.sort();
  return byFile;
}

describe('the typed native interface', () => {
  it("lists every entry point of each C++ file under that file's heading, and no other", () => {
    assert.deepEqual(interfaceByFile(), entryPointsByFile());
  });

  it("names exactly the addon's exports", () => {
    const declared = [...interfaceByFile().values()].flat().sort();
    assert.deepEqual(Object.keys(native).sort(), declared);
    for (const name of declared) assert.equal(typeof (native as unknown as Record<string, unknown>)[name], 'function', name);
  });
});

describe('importing the package', () => {
  it("does not change libtorch's thread count; the CLI's start-up sets it", () => {
    const script = `
      import { createRequire } from 'node:module';
      const addon = createRequire(import.meta.url)(${JSON.stringify(join(packageRoot, 'build', 'Release', 'resnets.node'))});
      addon.setNumThreads(1);
      await import(${JSON.stringify(join(packageRoot, 'src', 'index.ts'))});
      const afterImport = addon.getNumThreads();
      const { useDefaultThreads } = await import(${JSON.stringify(join(packageRoot, 'src', 'torch', 'runtime.ts'))});
      useDefaultThreads();
      console.log(JSON.stringify({ afterImport, afterDefault: addon.getNumThreads() }));`;
    const output = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: packageRoot,
      encoding: 'utf8',
      env: { ...process.env, RESNETS_NUM_THREADS: '2' },
    });
    assert.deepEqual(JSON.parse(output.trim().split('\n').pop()!), { afterImport: 1, afterDefault: 2 });
  });
});
