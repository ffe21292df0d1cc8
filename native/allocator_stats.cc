// Allocation statistics for memory benchmarks: a CPU allocator that wraps libtorch's
// and counts the bytes it hands out, so a benchmark can read the peak of live tensor
// bytes during a training step (autograd's saved tensors included, which the handle
// accounting of memory() cannot see). Installed on first use; costs one small heap
// record per allocation, so it is off unless asked for.
#include "common.h"

#include <c10/core/CPUAllocator.h>

#include <atomic>

namespace resnets {

namespace {

class CountingAllocator final : public c10::Allocator {
 public:
  explicit CountingAllocator(c10::Allocator* inner) : inner_(inner) {}

  c10::DataPtr allocate(size_t bytes) const override {
    auto* record = new Record{inner_->allocate(bytes), bytes, this};
    int64_t now = current_ += static_cast<int64_t>(bytes);
    int64_t peak = peak_.load();
    while (now > peak && !peak_.compare_exchange_weak(peak, now)) {
    }
    void* data = record->inner.get();
    c10::Device device = record->inner.device();
    return c10::DataPtr(data, record, &release, device);
  }

  int64_t current() const { return current_.load(); }
  int64_t peak() const { return peak_.load(); }
  void resetPeak() { peak_.store(current_.load()); }

 private:
  struct Record {
    c10::DataPtr inner;
    size_t bytes;
    const CountingAllocator* owner;
  };

  static void release(void* context) {
    auto* record = static_cast<Record*>(context);
    record->owner->current_ -= static_cast<int64_t>(record->bytes);
    delete record;  // frees the block through the inner allocator's deleter
  }

  c10::Allocator* inner_;
  mutable std::atomic<int64_t> current_{0};
  mutable std::atomic<int64_t> peak_{0};
};

CountingAllocator* counting() {
  // Never destroyed: tensors freed at exit still report to it.
  static CountingAllocator* allocator = [] {
    auto* wrapper = new CountingAllocator(c10::GetCPUAllocator());
    c10::SetCPUAllocator(wrapper, /*priority=*/1);
    return wrapper;
  }();
  return allocator;
}

}  // namespace

void registerAllocatorStatsOps(Napi::Env env, Exports exports) {
  RN_FN(exports, env, "allocatorStats", {
    // () -> { currentBytes, peakBytes } of CPU tensor storage allocated since counting started
    CountingAllocator* allocator = counting();
    auto result = Napi::Object::New(info.Env());
    result.Set("currentBytes", Napi::Number::New(info.Env(), static_cast<double>(allocator->current())));
    result.Set("peakBytes", Napi::Number::New(info.Env(), static_cast<double>(allocator->peak())));
    return result;
  });
  RN_FN(exports, env, "resetPeakAllocatorBytes", counting()->resetPeak(); return info.Env().Undefined(););
}

}  // namespace resnets
