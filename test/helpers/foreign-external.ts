// Another Node-API addon, compiled on the spot: it hands out Externals that were not
// made by resnets (one with a null pointer, one over zeroed memory, one over 0xff
// bytes), which the resnets addon must refuse as tensors instead of dereferencing them.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SOURCE = String.raw`
#include <node_api.h>
#include <string.h>
static char zeros[4096];
static char ones[4096];
static napi_value make(napi_env env, void* data) {
  napi_value external;
  napi_create_external(env, data, NULL, NULL, &external);
  return external;
}
static napi_value nullExternal(napi_env env, napi_callback_info info) { return make(env, NULL); }
static napi_value zeroExternal(napi_env env, napi_callback_info info) { return make(env, zeros); }
static napi_value garbageExternal(napi_env env, napi_callback_info info) { memset(ones, 0xff, sizeof ones); return make(env, ones); }
static void add(napi_env env, napi_value exports, const char* name, napi_callback cb) {
  napi_value fn;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn);
  napi_set_named_property(env, exports, name, fn);
}
NAPI_MODULE_INIT() {
  add(env, exports, "nullExternal", nullExternal);
  add(env, exports, "zeroExternal", zeroExternal);
  add(env, exports, "garbageExternal", garbageExternal);
  return exports;
}
`;

export interface ForeignAddon {
  nullExternal(): object;
  zeroExternal(): object;
  garbageExternal(): object;
}

let built: ForeignAddon | undefined;

/** Compiles (once per process) and loads the foreign addon. */
export function foreignAddon(): ForeignAddon {
  if (built) return built;
  const dir = mkdtempSync(join(tmpdir(), 'resnets-foreign-'));
  writeFileSync(join(dir, 'foreign.c'), SOURCE);
  execFileSync('cc', ['-shared', '-fPIC', '-O0', '-I/usr/include/node', '-o', join(dir, 'foreign.node'), join(dir, 'foreign.c')]);
  built = createRequire(import.meta.url)(join(dir, 'foreign.node')) as ForeignAddon;
  return built;
}
