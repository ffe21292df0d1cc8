// Shared plumbing for the addon: the tensor handle, argument readers and the
// exception guard that turns every C++ failure into a JS Error.
#pragma once

#include <napi.h>
#include <ATen/ATen.h>

#include <functional>

#include <vector>

namespace resnets {

// What a JS handle points at. `tensor` is reset on dispose so the storage is
// freed at once; the holder itself lives until the JS handle is collected.
struct TensorHolder {
  at::Tensor tensor;
  // The storage whose bytes this handle shares in the accounting (null for tensors
  // without one, which count `bytes` of their own).
  const void* storage = nullptr;
  int64_t bytes = 0;
  bool live = false;
};

Napi::Value wrap(Napi::Env env, at::Tensor tensor);
// A value that is not a tensor handle made by wrap() (checked by its Node-API type tag)
// is a TypeError.
at::Tensor& unwrap(const Napi::Value& value);
bool isLiveHandle(const Napi::Value& value);
void disposeHandle(Napi::Env env, const Napi::Value& value);

// Live-tensor accounting reported by memory().
int64_t liveTensorCount();
// Bytes of the storages live handles address.
int64_t liveTensorBytes();
// Every byte libtorch holds on the CPU (the counting allocator), or liveTensorBytes()
// where that allocator could not be installed.
int64_t nativeBytes();
// Tells this thread's V8 isolate how nativeBytes() moved since it was last told.
void syncExternalMemory(Napi::Env env);

// allocator.cc
void installCountingAllocator();
bool countingAllocatorInstalled();
int64_t allocatedCpuBytes();

// Runs `body`, translating libtorch and standard exceptions into a JS Error
// carrying libtorch's message without its C++ backtrace.
Napi::Value guard(const Napi::CallbackInfo& info, const std::function<Napi::Value()>& body);

// Argument readers.
std::vector<int64_t> intList(const Napi::Value& value);
bool isTensorArg(const Napi::Value& value);
c10::optional<at::Tensor> optionalTensor(const Napi::Value& value);
std::vector<at::Tensor> tensorList(const Napi::Value& value);
at::Scalar scalar(const Napi::Value& value);
at::ScalarType scalarType(const Napi::Value& value);
c10::Device deviceArg(const Napi::Value& value);
at::TensorOptions tensorOptions(const Napi::Value& dtype, const Napi::Value& device);
int64_t intArg(const Napi::Value& value);
double doubleArg(const Napi::Value& value);
bool boolArg(const Napi::Value& value);
Napi::Array wrapList(Napi::Env env, const std::vector<at::Tensor>& tensors);

using Exports = Napi::Object;
using Handler = Napi::Value (*)(const Napi::CallbackInfo&);

void registerTensorOps(Napi::Env env, Exports exports);
void registerViewOps(Napi::Env env, Exports exports);
void registerNnOps(Napi::Env env, Exports exports);
void registerAutogradOps(Napi::Env env, Exports exports);
void registerCheckpointOps(Napi::Env env, Exports exports);
void registerAllocatorStatsOps(Napi::Env env, Exports exports);
void registerTraceOps(Napi::Env env, Exports exports);
void registerAutocastOps(Napi::Env env, Exports exports);
// autocast.cc: this thread's autocast settings for the CPU or CUDA, read and put back whole
// (torch.autocast's regions, and a checkpointed segment's recompute).
struct AutocastState {
  bool enabled;
  at::ScalarType dtype;
  bool cache;
};
AutocastState currentAutocast(bool cuda);
void applyAutocast(bool cuda, const AutocastState& state);
void registerDnnlOps(Napi::Env env, Exports exports);
void registerDistributedOps(Napi::Env env, Exports exports);

}  // namespace resnets

// Declares a JS-callable function whose body runs under the guard.
#define RN_FN(exports, env, name, ...)                                                  \
  exports.Set(name, Napi::Function::New(env, [](const Napi::CallbackInfo& info) {       \
                return ::resnets::guard(info, [&]() -> Napi::Value { __VA_ARGS__ }); \
              }))

#define RN_T(i) ::resnets::unwrap(info[i])
#define RN_WRAP(expr) return ::resnets::wrap(info.Env(), (expr))
