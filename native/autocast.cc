// Automatic mixed precision, as torch.autocast: while it is on, the Autocast dispatch
// key of the device sits in this thread's dispatch set, and libtorch's autocast kernels
// run convolutions, matmuls and linear layers in the lower precision (their inputs and
// weights cast on the way in) while norms, softmax and losses stay in float32. The state
// is thread-local; casts of weights are cached until the outermost region ends, as in
// PyTorch's autocast __enter__/__exit__.
#include "common.h"

#include <ATen/autocast_mode.h>

namespace resnets {

AutocastState currentAutocast(bool cuda) {
  return {cuda ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled(),
          cuda ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype(),
          at::autocast::is_autocast_cache_enabled()};
}

void applyAutocast(bool cuda, const AutocastState& state) {
  if (cuda) {
    at::autocast::set_enabled(state.enabled);
    at::autocast::set_autocast_gpu_dtype(state.dtype);
  } else {
    at::autocast::set_cpu_enabled(state.enabled);
    at::autocast::set_autocast_cpu_dtype(state.dtype);
  }
  at::autocast::set_autocast_cache_enabled(state.cache);
}

namespace {

bool isCuda(const std::string& device) {
  if (device == "cpu") return false;
  if (device == "cuda") return true;
  throw std::invalid_argument("autocast: device must be 'cpu' or 'cuda', got '" + device + "'");
}

Napi::Object toJs(Napi::Env env, const AutocastState& state) {
  Napi::Object result = Napi::Object::New(env);
  result.Set("enabled", Napi::Boolean::New(env, state.enabled));
  result.Set("dtype", Napi::Number::New(env, static_cast<double>(static_cast<int>(state.dtype))));
  result.Set("cache", Napi::Boolean::New(env, state.cache));
  return result;
}

AutocastState fromJs(const Napi::Value& value) {
  if (!value.IsObject()) throw std::invalid_argument("autocast: expected a state object { enabled, dtype, cache }");
  Napi::Object object = value.As<Napi::Object>();
  return {boolArg(object.Get("enabled")), scalarType(object.Get("dtype")), boolArg(object.Get("cache"))};
}

}  // namespace

void registerAutocastOps(Napi::Env env, Exports exports) {
  RN_FN(exports, env, "autocastState", {
    // (device) -> { enabled, dtype, cache } of this thread
    return toJs(info.Env(), currentAutocast(isCuda(info[0].As<Napi::String>().Utf8Value())));
  });
  RN_FN(exports, env, "autocastEnter", {
    // (device, { enabled, dtype, cache }) -> the state it replaced, for autocastExit
    bool cuda = isCuda(info[0].As<Napi::String>().Utf8Value());
    AutocastState next = fromJs(info[1]);
    if (!cuda && next.enabled && next.dtype != at::kBFloat16) {
      // What libtorch 1.13's CPU autocast kernels support; PyTorch warns and disables itself.
      throw std::invalid_argument(std::string("autocast: on the CPU only bfloat16 is supported, got ") + c10::toString(next.dtype));
    }
    AutocastState previous = currentAutocast(cuda);
    applyAutocast(cuda, next);
    at::autocast::increment_nesting();
    return toJs(info.Env(), previous);
  });
  RN_FN(exports, env, "autocastExit", {
    // (device, the state autocastEnter returned): leaving the outermost region drops the cached weight casts
    bool cuda = isCuda(info[0].As<Napi::String>().Utf8Value());
    AutocastState previous = fromJs(info[1]);
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    applyAutocast(cuda, previous);
    return info.Env().Undefined();
  });
}

}  // namespace resnets
