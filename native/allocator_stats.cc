// Allocation statistics for memory benchmarks: a CPU allocator that wraps libtorch's
// and counts the bytes it hands out, so a benchmark can read the peak of live tensor
// bytes during a training step (autograd's saved tensors included, which the handle
// accounting of memory() cannot see). Installed on first use; costs one small heap
// table entry per allocation, so it is off unless asked for.
#include "common.h"

#include <c10/core/CPUAllocator.h>

#include <atomic>
#include <mutex>
#include <unordered_map>

namespace resnets {

namespace {

// The context of each block is its data pointer (raw_allocate, which oneDNN uses, asserts
// that), so sizes and the inner allocator's deleters are kept in a table by address.
class CountingAllocator final : public c10::Allocator {
 public:
  explicit CountingAllocator(c10::Allocator* inner) : inner_(inner) {}

  c10::DataPtr allocate(size_t bytes) const override {
    c10::DataPtr block = inner_->allocate(bytes);
    void* data = block.get();
    c10::Device device = block.device();
    if (data == nullptr) return block;  // zero-byte allocations
    {
      std::lock_guard<std::mutex> lock(mutex_);
      blocks_.emplace(data, Record{std::move(block), bytes});
    }
    int64_t now = current_ += static_cast<int64_t>(bytes);
    int64_t peak = peak_.load();
    while (now > peak && !peak_.compare_exchange_weak(peak, now)) {
    }
    return c10::DataPtr(data, data, &release, device);
  }

  c10::DeleterFnPtr raw_deleter() const override { return &release; }

  int64_t current() const { return current_.load(); }
  int64_t peak() const { return peak_.load(); }
  void resetPeak() { peak_.store(current_.load()); }

 private:
  struct Record {
    c10::DataPtr inner;
    size_t bytes;
  };

  static void release(void* data);

  c10::Allocator* inner_;
  mutable std::mutex mutex_;
  mutable std::unordered_map<void*, Record> blocks_;
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

void CountingAllocator::release(void* data) {
  CountingAllocator* self = counting();
  Record record;
  {
    std::lock_guard<std::mutex> lock(self->mutex_);
    auto found = self->blocks_.find(data);
    if (found == self->blocks_.end()) return;  // not ours: cannot happen, and never free twice
    record = std::move(found->second);
    self->blocks_.erase(found);
  }
  self->current_ -= static_cast<int64_t>(record.bytes);
  // record.inner frees the block through the inner allocator as it goes out of scope.
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
