// A counting CPU allocator around c10's: every byte libtorch allocates on the CPU for
// this process (tensors, autograd's saved tensors, oneDNN-layout tensors, which ideep
// allocates through the same allocator) is counted exactly, so memory() and V8's
// external-memory figure see what a forward pass with autograd really holds. It also
// keeps the peak, which the training-memory report and benchmarks read.
#include "common.h"

#include <c10/core/CPUAllocator.h>

#include <atomic>
#include <mutex>

#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace resnets {

namespace {

// The size is stored in a header in front of the block, so the raw_allocate /
// raw_deallocate protocol (data pointer == context, one plain deleter), which ideep
// uses, keeps working. 64 bytes keep c10's 64-byte alignment.
constexpr size_t kHeader = 64;

std::atomic<int64_t> gAllocatedBytes{0};
std::atomic<int64_t> gPeakBytes{0};
c10::Allocator* gBase = nullptr;

void countedDelete(void* data) {
  if (data == nullptr) return;
  auto* block = static_cast<char*>(data) - kHeader;
  gAllocatedBytes -= static_cast<int64_t>(*reinterpret_cast<size_t*>(block));
  gBase->raw_deallocate(block);
}

class CountingAllocator final : public c10::Allocator {
 public:
  c10::DataPtr allocate(size_t n) const override {
    if (n == 0) return {nullptr, nullptr, &countedDelete, c10::Device(c10::DeviceType::CPU)};
    char* block = nullptr;
    try {
      block = static_cast<char*>(gBase->raw_allocate(n + kHeader));
    } catch (const c10::Error&) {
      // c10's message, with the size the caller asked for rather than ours.
      TORCH_CHECK(false, "DefaultCPUAllocator: can't allocate memory: you tried to allocate ", n, " bytes.");
    }
    *reinterpret_cast<size_t*>(block) = n;
    int64_t now = gAllocatedBytes += static_cast<int64_t>(n);
    int64_t peak = gPeakBytes.load();
    while (now > peak && !gPeakBytes.compare_exchange_weak(peak, now)) {
    }
    void* data = block + kHeader;
    return {data, data, &countedDelete, c10::Device(c10::DeviceType::CPU)};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &countedDelete; }
};

CountingAllocator gCounting;
std::once_flag gInstallOnce;

}  // namespace

void installCountingAllocator() {
  std::call_once(gInstallOnce, [] {
    c10::Allocator* base = c10::GetCPUAllocator();
    // Wrapping needs the raw protocol from the allocator underneath; without it the
    // handle-based count (tensorBytes) is all memory() can report.
    if (base == nullptr || base->raw_deleter() == nullptr) return;
    gBase = base;
    c10::SetCPUAllocator(&gCounting, /*priority=*/100);
  });
}

bool countingAllocatorInstalled() { return gBase != nullptr; }

int64_t allocatedCpuBytes() { return gAllocatedBytes.load(); }

void registerAllocatorStatsOps(Napi::Env env, Exports exports) {
  RN_FN(exports, env, "allocatorStats", {
    // () -> { currentBytes, peakBytes } of CPU storage libtorch holds (peak since the last reset)
    if (!countingAllocatorInstalled()) throw Napi::Error::New(info.Env(), "allocation statistics need the counting CPU allocator, which could not be installed over this libtorch's");
    auto result = Napi::Object::New(info.Env());
    result.Set("currentBytes", Napi::Number::New(info.Env(), static_cast<double>(gAllocatedBytes.load())));
    result.Set("peakBytes", Napi::Number::New(info.Env(), static_cast<double>(gPeakBytes.load())));
    return result;
  });
  RN_FN(exports, env, "resetPeakAllocatorBytes", gPeakBytes.store(gAllocatedBytes.load()); return info.Env().Undefined(););
  RN_FN(exports, env, "retainFreedMemory", {
    // () -> whether glibc took the settings. By default glibc maps each block over its
    // (adaptive) threshold afresh and hands freed memory at the top of the heap back to
    // the kernel, so every training step page-faults its activations in again; these keep
    // blocks up to 32 MB (glibc's largest threshold) in the heap and the heap's free top.
#ifdef __GLIBC__
    constexpr int kMmapThreshold = 32 << 20;
    constexpr int kTrimThreshold = INT32_MAX;
    constexpr int kTopPad = 64 << 20;
    bool applied = mallopt(M_MMAP_THRESHOLD, kMmapThreshold) == 1 && mallopt(M_TRIM_THRESHOLD, kTrimThreshold) == 1 &&
                   mallopt(M_TOP_PAD, kTopPad) == 1;
    return Napi::Boolean::New(info.Env(), applied);
#else
    return Napi::Boolean::New(info.Env(), false);
#endif
  });
}

}  // namespace resnets
