#include "common.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <cmath>
#include <mutex>
#include <string>
#include <unordered_map>

namespace resnets {

namespace {

std::atomic<int64_t> gLiveTensors{0};
std::atomic<int64_t> gLiveBytes{0};

// Bytes are counted per storage, not per handle: views, detached aliases and expanded
// tensors share one storage, and their logical sizes (numel x element size) can be far
// beyond what is allocated (an expanded 1-element tensor can claim exabytes, which V8
// refuses by aborting). A storage counts once, from its first handle to its last.
struct StorageUse {
  int64_t handles = 0;
  int64_t bytes = 0;
};
std::mutex gStorageMutex;  // worker threads wrap tensors too
std::unordered_map<const void*, StorageUse> gStorages;

// Returns the bytes this handle adds to the total.
int64_t acquireBytes(const at::Tensor& tensor, const void** key) {
  *key = nullptr;
  if (!tensor.defined() || tensor.is_meta()) return 0;  // meta tensors have no storage
  // Opaque layouts (oneDNN) have no storage object: count their logical size.
  if (!tensor.has_storage()) return static_cast<int64_t>(tensor.numel() * tensor.element_size());
  const auto& storage = tensor.storage();
  *key = storage.unsafeGetStorageImpl();
  std::lock_guard<std::mutex> lock(gStorageMutex);
  StorageUse& use = gStorages[*key];
  if (use.handles++ > 0) return 0;
  use.bytes = static_cast<int64_t>(storage.nbytes());
  return use.bytes;
}

// Set when garbage collection frees a handle that was never disposed: the next report to
// V8 then starts its windows afresh (see bytesToReport), so the fall reaches V8 at once.
thread_local bool tCollectedLiveHandles = false;

// Returns the bytes that leave the total when this handle goes.
int64_t releaseBytes(const TensorHolder* holder) {
  if (holder->storage == nullptr) return holder->bytes;
  std::lock_guard<std::mutex> lock(gStorageMutex);
  auto found = gStorages.find(holder->storage);
  if (found == gStorages.end() || --found->second.handles > 0) return 0;
  int64_t bytes = found->second.bytes;
  gStorages.erase(found);
  return bytes;
}

// Frees the tensor and updates the counters. Touches no JavaScript state, so it can run
// inside garbage collection.
void release(TensorHolder* holder) {
  if (!holder->live) return;
  holder->live = false;
  int64_t bytes = releaseBytes(holder);
  holder->tensor = at::Tensor();
  gLiveTensors--;
  gLiveBytes -= bytes;
}

// A basic finalizer: with the addon built against Node-API's experimental version, Node
// runs it during garbage collection itself rather than on a later turn of the event loop,
// so a synchronous loop that drops tensors without dispose() gets their memory back at
// the next collection. It may not call into JavaScript; V8 hears of the freed bytes at
// the next syncExternalMemory() on this thread.
void finalizeInGc(node_api_basic_env, void* data, void*) {
  auto* holder = static_cast<TensorHolder*>(data);
  // A handle still live here escaped every scope: garbage the collection just freed.
  if (holder->live) tCollectedLiveHandles = true;
  release(holder);
  delete holder;
}

// The tag every tensor handle carries: an External made by another addon (or by anything
// else) is refused instead of being cast to a TensorHolder.
constexpr napi_type_tag kTensorHandleTag = {0x7265736e6574732dULL, 0x74656e736f722d31ULL};

std::string describe(const Napi::Value& value) {
  if (value.IsUndefined()) return "undefined";
  if (value.IsNull()) return "null";
  if (value.IsExternal()) return "an External that is not a resnets tensor handle";
  if (value.IsArray()) return "an array";
  if (value.IsFunction()) return "a function";
  if (value.IsObject()) return "an object";
  if (value.IsNumber()) return "a number";
  if (value.IsString()) return "a string";
  if (value.IsBoolean()) return "a boolean";
  return "a value of another type";
}

// The holder behind a tagged handle, or null for anything else.
TensorHolder* holderOf(const Napi::Value& value) {
  if (!value.IsExternal()) return nullptr;
  bool tagged = false;
  napi_status status = napi_check_object_type_tag(value.Env(), value, &kTensorHandleTag, &tagged);
  if (status != napi_ok || !tagged) return nullptr;
  return value.As<Napi::External<TensorHolder>>().Data();
}

TensorHolder* checkedHolder(const Napi::Value& value) {
  TensorHolder* holder = holderOf(value);
  if (holder == nullptr) throw Napi::TypeError::New(value.Env(), "expected a tensor handle, got " + describe(value));
  return holder;
}

// What this thread's V8 isolate has been told (each Node environment runs on its own thread).
thread_local int64_t tReportedBytes = 0;

// V8 hears the highest native bytes of the last one to two windows, not every rise and
// fall. V8 starts a full collection whenever its external figure climbs 64 MB above the
// lowest it has seen since the last one, so reporting each step's fall would have it
// collect several times per training step (measured: a fifth of densenet121's forward
// pass). A rise past the window's highest is reported at once, so tensors nobody
// disposed still push V8 to collect, and once a collection has freed such tensors the
// windows start afresh, so V8 hears that fall at once and the next 64 MB of garbage sets
// off the next collection (without this, each collection's limit would ratchet up from
// the window's peak); any other fall reaches V8 within two windows.
constexpr auto kReportWindow = std::chrono::seconds(5);
struct ReportWindows {
  std::chrono::steady_clock::time_point started{};
  int64_t currentPeak = 0;
  int64_t previousPeak = 0;
};
thread_local ReportWindows tWindows;

int64_t bytesToReport(int64_t now) {
  auto clock = std::chrono::steady_clock::now();
  if (tCollectedLiveHandles) {
    tCollectedLiveHandles = false;
    tWindows = ReportWindows{clock, now, 0};
  } else if (clock - tWindows.started >= kReportWindow) {
    tWindows.previousPeak = tWindows.currentPeak;
    tWindows.currentPeak = 0;
    tWindows.started = clock;
  }
  tWindows.currentPeak = std::max(tWindows.currentPeak, now);
  return std::max(tWindows.currentPeak, tWindows.previousPeak);
}

std::string messageOf(const c10::Error& error) { return error.what_without_backtrace(); }

// A JS number that must be an integer libtorch can hold: casting NaN, infinities or
// values beyond int64 to int64_t is undefined behaviour, so they are refused here.
int64_t integerOf(double d) {
  if (!std::isfinite(d) || std::floor(d) != d) throw std::invalid_argument("expected an integer, got " + c10::str(d));
  if (std::fabs(d) >= 9223372036854775808.0) throw std::invalid_argument("integer out of range: " + c10::str(d));
  return static_cast<int64_t>(d);
}

}  // namespace

int64_t liveTensorCount() { return gLiveTensors.load(); }
int64_t liveTensorBytes() { return gLiveBytes.load(); }
int64_t nativeBytes() { return countingAllocatorInstalled() ? allocatedCpuBytes() : liveTensorBytes(); }

void syncExternalMemory(Napi::Env env) {
  const int64_t reported = bytesToReport(nativeBytes());
  const int64_t change = reported - tReportedBytes;
  if (change == 0) return;
  tReportedBytes = reported;
  Napi::MemoryManagement::AdjustExternalMemory(env, change);
}

Napi::Value wrap(Napi::Env env, at::Tensor tensor) {
  auto holder = std::make_unique<TensorHolder>();
  const int64_t added = acquireBytes(tensor, &holder->storage);
  holder->bytes = holder->storage == nullptr ? added : 0;
  holder->tensor = std::move(tensor);
  holder->live = true;
  gLiveTensors++;
  gLiveBytes += added;
  napi_value external = nullptr;
  napi_status status = napi_create_external(env, holder.get(), finalizeInGc, nullptr, &external);
  if (status == napi_ok) status = napi_type_tag_object(env, external, &kTensorHandleTag);
  if (status != napi_ok) {
    if (external == nullptr) release(holder.get());  // otherwise the finalizer owns it
    else holder.release();
    throw Napi::Error::New(env, "could not create a tensor handle");
  }
  holder.release();
  syncExternalMemory(env);
  return Napi::Value(env, external);
}

at::Tensor& unwrap(const Napi::Value& value) {
  TensorHolder* holder = checkedHolder(value);
  if (!holder->live) throw std::invalid_argument("tensor was used after dispose()");
  return holder->tensor;
}

bool isLiveHandle(const Napi::Value& value) { return checkedHolder(value)->live; }

void disposeHandle(Napi::Env env, const Napi::Value& value) {
  release(checkedHolder(value));
  syncExternalMemory(env);
}

Napi::Value guard(const Napi::CallbackInfo& info, const std::function<Napi::Value()>& body) {
  std::string message;
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const c10::Error& error) {
    message = messageOf(error);
  } catch (const std::exception& error) {
    message = error.what();
  } catch (...) {
    message = "unknown native error";
  }
  throw Napi::Error::New(info.Env(), message);
}

std::vector<int64_t> intList(const Napi::Value& value) {
  std::vector<int64_t> out;
  if (value.IsNumber()) {
    out.push_back(integerOf(value.As<Napi::Number>().DoubleValue()));
    return out;
  }
  if (!value.IsArray()) throw std::invalid_argument("expected an array of integers");
  auto array = value.As<Napi::Array>();
  out.reserve(array.Length());
  for (uint32_t i = 0; i < array.Length(); i++) {
    Napi::Value item = array[i];
    if (!item.IsNumber()) throw std::invalid_argument("expected an array of integers");
    out.push_back(integerOf(item.As<Napi::Number>().DoubleValue()));
  }
  return out;
}

// An External is taken as a tensor argument (and then checked by unwrap), so a foreign
// External is a TypeError rather than a number or scalar.
bool isTensorArg(const Napi::Value& value) { return value.IsExternal(); }

c10::optional<at::Tensor> optionalTensor(const Napi::Value& value) {
  if (value.IsUndefined() || value.IsNull()) return c10::nullopt;
  return unwrap(value);
}

std::vector<at::Tensor> tensorList(const Napi::Value& value) {
  if (!value.IsArray()) throw std::invalid_argument("expected an array of tensors");
  auto array = value.As<Napi::Array>();
  std::vector<at::Tensor> out;
  out.reserve(array.Length());
  for (uint32_t i = 0; i < array.Length(); i++) out.push_back(unwrap(array[i]));
  return out;
}

at::Scalar scalar(const Napi::Value& value) {
  if (value.IsBoolean()) return at::Scalar(value.As<Napi::Boolean>().Value());
  if (!value.IsNumber()) throw std::invalid_argument("expected a number");
  double d = value.As<Napi::Number>().DoubleValue();
  // Integral JS numbers act like Python ints so integer tensors stay integral.
  if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) < 9007199254740992.0) {
    return at::Scalar(static_cast<int64_t>(d));
  }
  return at::Scalar(d);
}

at::ScalarType scalarType(const Napi::Value& value) {
  int64_t code = value.As<Napi::Number>().Int64Value();
  if (code < 0 || code >= static_cast<int64_t>(at::ScalarType::NumOptions)) {
    throw std::invalid_argument("unknown dtype code " + std::to_string(code));
  }
  return static_cast<at::ScalarType>(code);
}

c10::Device deviceArg(const Napi::Value& value) {
  if (!value.IsString()) throw std::invalid_argument("expected a device name such as 'cpu' or 'cuda:0'");
  c10::Device device(value.As<Napi::String>().Utf8Value());
  // Without this check libtorch answers with a page-long dispatcher listing.
  if (device.is_cuda() && !at::hasCUDA()) {
    throw std::invalid_argument("device '" + device.str() + "' requested but this libtorch build has no CUDA support");
  }
  return device;
}

at::TensorOptions tensorOptions(const Napi::Value& dtype, const Napi::Value& device) {
  at::TensorOptions options;
  if (!dtype.IsUndefined() && !dtype.IsNull()) options = options.dtype(scalarType(dtype));
  if (!device.IsUndefined() && !device.IsNull()) options = options.device(deviceArg(device));
  return options;
}

int64_t intArg(const Napi::Value& value) {
  if (!value.IsNumber()) throw std::invalid_argument("expected an integer");
  return integerOf(value.As<Napi::Number>().DoubleValue());
}

double doubleArg(const Napi::Value& value) {
  if (!value.IsNumber()) throw std::invalid_argument("expected a number");
  return value.As<Napi::Number>().DoubleValue();
}

bool boolArg(const Napi::Value& value) { return value.ToBoolean().Value(); }

Napi::Array wrapList(Napi::Env env, const std::vector<at::Tensor>& tensors) {
  auto array = Napi::Array::New(env, tensors.size());
  for (size_t i = 0; i < tensors.size(); i++) array.Set(static_cast<uint32_t>(i), wrap(env, tensors[i]));
  return array;
}

}  // namespace resnets
