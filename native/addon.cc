// Entry point of the resnets native addon.
#include "common.h"


namespace resnets {

Napi::Object init(Napi::Env env, Napi::Object exports) {
  // Before any tensor exists, so every allocation made for us is counted.
  installCountingAllocator();
  registerTensorOps(env, exports);
  registerViewOps(env, exports);
  registerNnOps(env, exports);
  registerAutogradOps(env, exports);
  registerCheckpointOps(env, exports);
  registerAllocatorStatsOps(env, exports);
  registerTraceOps(env, exports);
  registerAutocastOps(env, exports);
  registerDnnlOps(env, exports);
  registerDistributedOps(env, exports);
  return exports;
}

}  // namespace resnets

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return resnets::init(env, exports); }

NODE_API_MODULE(resnets, InitAddon)
