// Multi-process data parallelism on libtorch's own c10d: TCPStore rendezvous, the Gloo
// process group and its collectives, DDP's Reducer (bucketed gradient all-reduce that
// overlaps the backward pass) and synchronised batch normalisation.
//
// One process group per process, as torch.distributed's default group. Calls that wait
// on other processes (the rendezvous, and collectives asked for asynchronously) wait on
// a libuv worker thread and hand back a Promise, so the JavaScript event loop keeps
// running (signals, timers, progress). Collectives are always *issued* on the calling
// thread, so every rank enqueues them in its program order, which is what Gloo needs.
// ProcessGroupGloo.hpp declares its class only for builds with Gloo, which Debian's is.
#define USE_C10D_GLOO 1

#include "common.h"

#include <torch/csrc/autograd/custom_function.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/comm.hpp>
#include <torch/csrc/distributed/c10d/reducer.hpp>

#include <chrono>
#include <memory>
#include <mutex>
#include <thread>

namespace resnets {

namespace {

struct Group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> processGroup;
  int rank = 0;
  int worldSize = 1;
  std::chrono::milliseconds timeout{30000};
};

std::mutex gGroupMutex;
std::shared_ptr<Group> gGroup;

std::shared_ptr<Group> currentGroup() {
  std::lock_guard<std::mutex> lock(gGroupMutex);
  if (!gGroup) throw std::runtime_error("the distributed process group is not initialised (call train.distributed.init first)");
  return gGroup;
}

std::string messageOf(const std::exception& error) {
  if (auto* c10Error = dynamic_cast<const c10::Error*>(&error)) return c10Error->what_without_backtrace();
  return error.what();
}

// Runs `body` on a libuv worker thread and settles a Promise with its outcome.
class BlockingTask : public Napi::AsyncWorker {
 public:
  BlockingTask(Napi::Env env, std::function<void()> body, std::function<void()> onMainThread = nullptr)
      : Napi::AsyncWorker(env, "resnets.distributed"),
        deferred_(Napi::Promise::Deferred::New(env)),
        body_(std::move(body)),
        onMainThread_(std::move(onMainThread)) {}

  Napi::Promise promise() const { return deferred_.Promise(); }

  void Execute() override {
    // Grad mode is thread-local: in-place updates of tensors that require grad (a
    // parameter broadcast) must not be recorded.
    at::NoGradGuard noGrad;
    try {
      body_();
    } catch (const std::exception& error) {
      SetError(messageOf(error));
    }
  }
  void OnOK() override {
    if (onMainThread_) onMainThread_();
    deferred_.Resolve(Env().Undefined());
  }
  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::function<void()> body_;
  std::function<void()> onMainThread_;
};

// Waits for the works here (sync) or on a worker thread (a Promise); `after` runs once
// they are done, on the thread that waited.
Napi::Value finish(Napi::Env env, std::vector<c10::intrusive_ptr<c10d::Work>> works, bool async,
                   std::function<void()> after = nullptr) {
  auto waitAll = [works = std::move(works), after = std::move(after)]() {
    for (const auto& work : works) work->wait();
    if (after) after();
  };
  if (!async) {
    at::NoGradGuard noGrad;
    waitAll();
    return env.Undefined();
  }
  auto* task = new BlockingTask(env, waitAll);
  auto promise = task->promise();
  task->Queue();
  return promise;
}

c10d::ReduceOp reduceOp(const std::string& name) {
  if (name == "sum" || name == "avg") return c10d::ReduceOp::SUM;
  if (name == "max") return c10d::ReduceOp::MAX;
  if (name == "min") return c10d::ReduceOp::MIN;
  if (name == "product") return c10d::ReduceOp::PRODUCT;
  throw std::invalid_argument("allReduce: op must be one of sum, avg, max, min, product; got '" + name + "'");
}

std::string stringArg(const Napi::Value& value, const char* what) {
  if (!value.IsString()) throw std::invalid_argument(std::string(what) + " must be a string");
  return value.As<Napi::String>().Utf8Value();
}

// The reduction dimensions of batch normalisation: every one but the channels (1).
std::vector<int64_t> nonChannelDims(const at::Tensor& input) {
  std::vector<int64_t> dims{0};
  for (int64_t d = 2; d < input.dim(); d++) dims.push_back(d);
  return dims;
}

// A [C] tensor shaped to broadcast against the input ([1, C, 1, 1] for NCHW).
at::Tensor perChannel(const at::Tensor& values, const at::Tensor& input) {
  std::vector<int64_t> shape(input.dim(), 1);
  shape[1] = values.size(0);
  return values.view(shape);
}

// SyncBatchNorm's training pass (the contract of torch.nn.SyncBatchNorm): the batch
// statistics are those of the global batch. Forward gathers each rank's (count, mean,
// M2) and combines them exactly (Chan et al.'s parallel variance); backward all-reduces
// the per-channel sums of dy and dy * (x - mean), which the input gradient needs. The
// weight and bias gradients stay per-rank sums: DDP's gradient average finishes them.
struct SyncBatchNormFunction : public torch::autograd::Function<SyncBatchNormFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& input, const at::Tensor& weight,
                            const at::Tensor& bias, at::Tensor runningMean, at::Tensor runningVar, double momentum,
                            double eps) {
    auto group = currentGroup();
    auto dims = nonChannelDims(input);
    const int64_t channels = input.size(1);
    auto stats = at::var_mean(input.to(at::kFloat), dims, /*unbiased=*/false, /*keepdim=*/false);
    auto localVar = std::get<0>(stats), localMean = std::get<1>(stats);
    const double localCount = static_cast<double>(input.numel() / channels);
    auto packed = at::cat({at::full({1}, localCount, localMean.options()), localMean, localVar * localCount});
    std::vector<std::vector<at::Tensor>> gathered(1);
    for (int r = 0; r < group->worldSize; r++) gathered[0].push_back(at::empty_like(packed));
    std::vector<at::Tensor> inputs{packed};
    group->processGroup->allgather(gathered, inputs)->wait();
    auto all = at::stack(gathered[0]);  // [world, 1 + 2C]
    auto counts = all.narrow(1, 0, 1);
    auto means = all.narrow(1, 1, channels);
    auto m2s = all.narrow(1, 1 + channels, channels);
    auto total = counts.sum();
    auto mean = (counts * means).sum(0) / total;
    auto m2 = (m2s + counts * (means - mean).pow(2)).sum(0);
    const double count = total.item<double>();
    auto invstd = (m2 / count + eps).rsqrt();
    if (runningMean.defined()) {
      at::NoGradGuard noGrad;
      runningMean.mul_(1 - momentum).add_(mean.to(runningMean.scalar_type()), momentum);
      // The running variance is the unbiased one, as in batch_norm_gather_stats_with_counts.
      auto unbiased = m2 / std::max(count - 1, 1.0);
      runningVar.mul_(1 - momentum).add_(unbiased.to(runningVar.scalar_type()), momentum);
    }
    auto scale = weight.defined() ? invstd * weight.to(at::kFloat) : invstd;
    auto output = (input - perChannel(mean.to(input.scalar_type()), input)) * perChannel(scale.to(input.scalar_type()), input);
    if (bias.defined()) output = output + perChannel(bias, input);
    ctx->save_for_backward({input, weight, mean, invstd});
    ctx->saved_data["count"] = count;
    ctx->saved_data["hasBias"] = bias.defined();
    return output;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    auto group = currentGroup();
    auto saved = ctx->get_saved_variables();
    const at::Tensor& input = saved[0];
    const at::Tensor& weight = saved[1];
    const at::Tensor& mean = saved[2];
    const at::Tensor& invstd = saved[3];
    const double count = ctx->saved_data["count"].toDouble();
    const bool hasBias = ctx->saved_data["hasBias"].toBool();
    const int64_t channels = input.size(1);
    auto dims = nonChannelDims(input);
    at::Tensor dy = grads[0].to(at::kFloat);
    auto xmu = input.to(at::kFloat) - perChannel(mean, input);
    auto sumDy = dy.sum(dims);
    auto sumDyXmu = (dy * xmu).sum(dims);
    at::Tensor gradWeight = weight.defined() ? (sumDyXmu * invstd).to(weight.scalar_type()) : at::Tensor();
    at::Tensor gradBias = hasBias ? sumDy.to(input.scalar_type()) : at::Tensor();
    auto packed = at::cat({sumDy, sumDyXmu});
    std::vector<at::Tensor> tensors{packed};
    group->processGroup->allreduce(tensors)->wait();
    auto meanDy = packed.narrow(0, 0, channels) / count;
    auto meanDyXmu = packed.narrow(0, channels, channels) / count;
    auto scale = weight.defined() ? invstd * weight.to(at::kFloat) : invstd;
    auto gradInput = (dy - perChannel(meanDy, input) - xmu * perChannel(invstd * invstd * meanDyXmu, input)) * perChannel(scale, input);
    return {gradInput.to(input.scalar_type()), gradWeight, gradBias, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

struct ReducerHolder {
  // A raw pointer: ~Reducer is noexcept(false), and a throw from a unique_ptr's
  // (noexcept) reset would end the process.
  c10d::Reducer* reducer = nullptr;
  std::shared_ptr<Group> group;  // the group outlives the reducer that uses it

  // Returns the destructor's message, if it threw.
  std::string release() noexcept {
    std::string failure;
    try {
      delete reducer;
    } catch (const std::exception& error) {
      failure = messageOf(error);
    }
    reducer = nullptr;
    return failure;
  }
  ~ReducerHolder() { release(); }
};

// Reducer handles carry a Node-API type tag of their own, so an External made elsewhere
// (another addon, a tensor handle) is refused instead of being dereferenced.
constexpr napi_type_tag kReducerHandleTag = {0x7265736e6574732dULL, 0x7265647563657231ULL};

ReducerHolder& holderArg(const Napi::Value& value) {
  bool tagged = false;
  if (!value.IsExternal() || napi_check_object_type_tag(value.Env(), value, &kReducerHandleTag, &tagged) != napi_ok || !tagged) {
    throw std::invalid_argument("expected a DistributedDataParallel reducer handle");
  }
  return *value.As<Napi::External<ReducerHolder>>().Data();
}

ReducerHolder& reducerArg(const Napi::Value& value) {
  auto& holder = holderArg(value);
  if (!holder.reducer) throw std::runtime_error("this DistributedDataParallel wrapper was destroyed");
  return holder;
}

}  // namespace

void registerDistributedOps(Napi::Env env, Exports exports) {
  RN_FN(exports, env, "distInit", {
    // ({ rank, worldSize, masterAddr, masterPort, timeoutMs, interface?, threads? }) -> Promise<void>
    if (!info[0].IsObject()) throw std::invalid_argument("distInit: expected an options object");
    auto options = info[0].As<Napi::Object>();
    const int rank = static_cast<int>(intArg(options.Get("rank")));
    const int worldSize = static_cast<int>(intArg(options.Get("worldSize")));
    const std::string masterAddr = stringArg(options.Get("masterAddr"), "masterAddr");
    const int64_t masterPort = intArg(options.Get("masterPort"));
    const auto timeout = std::chrono::milliseconds(intArg(options.Get("timeoutMs")));
    const std::string interface = options.Has("interface") && options.Get("interface").IsString()
                                      ? options.Get("interface").As<Napi::String>().Utf8Value() : "";
    const int threads = options.Has("threads") && options.Get("threads").IsNumber() ? static_cast<int>(intArg(options.Get("threads"))) : 2;
    {
      std::lock_guard<std::mutex> lock(gGroupMutex);
      if (gGroup) throw std::runtime_error("the distributed process group is already initialised (call destroy() first)");
    }
    auto group = std::make_shared<Group>();
    group->rank = rank;
    group->worldSize = worldSize;
    group->timeout = timeout;
    auto* task = new BlockingTask(
        info.Env(),
        [group, masterAddr, masterPort, timeout, interface, threads]() {
          c10d::TCPStoreOptions storeOptions;
          storeOptions.port = static_cast<std::uint16_t>(masterPort);
          storeOptions.isServer = group->rank == 0;
          storeOptions.numWorkers = static_cast<std::size_t>(group->worldSize);
          storeOptions.waitWorkers = true;
          storeOptions.timeout = timeout;
          auto tcpStore = c10::make_intrusive<c10d::TCPStore>(masterAddr, storeOptions);
          group->store = tcpStore;
          auto pgOptions = c10d::ProcessGroupGloo::Options::create(timeout);
          pgOptions->devices.push_back(interface.empty() ? c10d::ProcessGroupGloo::createDefaultDevice()
                                                         : c10d::ProcessGroupGloo::createDeviceForInterface(interface));
          pgOptions->threads = threads;
          auto prefixed = c10::make_intrusive<c10d::PrefixStore>("resnets/pg", group->store);
          group->processGroup = c10::make_intrusive<c10d::ProcessGroupGloo>(prefixed, group->rank, group->worldSize, pgOptions);
        },
        [group]() {
          std::lock_guard<std::mutex> lock(gGroupMutex);
          gGroup = group;
        });
    auto promise = task->promise();
    task->Queue();
    return promise;
  });
  RN_FN(exports, env, "distDestroy", {
    std::lock_guard<std::mutex> lock(gGroupMutex);
    gGroup.reset();
    return info.Env().Undefined();
  });
  RN_FN(exports, env, "distInfo", {
    std::lock_guard<std::mutex> lock(gGroupMutex);
    if (!gGroup) return info.Env().Null();
    auto result = Napi::Object::New(info.Env());
    result.Set("rank", Napi::Number::New(info.Env(), gGroup->rank));
    result.Set("worldSize", Napi::Number::New(info.Env(), gGroup->worldSize));
    result.Set("timeoutMs", Napi::Number::New(info.Env(), static_cast<double>(gGroup->timeout.count())));
    return result;
  });
  RN_FN(exports, env, "distAllReduce", {
    // (tensors[], op, async) -> undefined | Promise<void>
    auto group = currentGroup();
    auto tensors = tensorList(info[0]);
    const std::string opName = stringArg(info[1], "op");
    auto op = reduceOp(opName);
    if (opName == "avg") {
      for (const auto& t : tensors) {
        if (!at::isFloatingType(t.scalar_type())) throw std::invalid_argument("allReduce: op 'avg' needs floating-point tensors, got " + std::string(c10::toString(t.scalar_type())));
      }
    }
    std::vector<c10::intrusive_ptr<c10d::Work>> works;
    c10d::AllreduceOptions options;
    options.reduceOp = op;
    for (auto& t : tensors) {
      std::vector<at::Tensor> one{t};
      works.push_back(group->processGroup->allreduce(one, options));
    }
    const int worldSize = group->worldSize;
    std::function<void()> after;
    // Gloo has no average: sum, then divide, as torch.distributed does for Gloo users.
    if (opName == "avg") after = [tensors, worldSize]() { for (auto t : tensors) t.div_(worldSize); };
    return finish(info.Env(), std::move(works), boolArg(info[2]), after);
  });
  RN_FN(exports, env, "distBroadcast", {
    // (tensors[], root, async) -> undefined | Promise<void>
    auto group = currentGroup();
    auto tensors = tensorList(info[0]);
    const int64_t root = intArg(info[1]);
    if (root < 0 || root >= group->worldSize) {
      throw std::invalid_argument("broadcast: root must be a rank in [0, " + std::to_string(group->worldSize - 1) + "], got " + std::to_string(root));
    }
    c10d::BroadcastOptions options;
    options.rootRank = root;
    std::vector<c10::intrusive_ptr<c10d::Work>> works;
    for (auto& t : tensors) {
      std::vector<at::Tensor> one{t};
      works.push_back(group->processGroup->broadcast(one, options));
    }
    return finish(info.Env(), std::move(works), boolArg(info[2]));
  });
  RN_FN(exports, env, "distBarrier", {
    // (async) -> undefined | Promise<void>
    auto group = currentGroup();
    return finish(info.Env(), {group->processGroup->barrier()}, boolArg(info[0]));
  });
  RN_FN(exports, env, "distRollCall", {
    // (tag, windowMs) -> { missing: number[] } | { storeError: string }
    // After a collective failed: every surviving rank checks in under `tag` and waits up
    // to windowMs for the others; the ranks that never check in are the ones that left.
    auto group = currentGroup();
    const std::string tag = stringArg(info[0], "tag");
    const auto window = std::chrono::milliseconds(intArg(info[1]));
    auto result = Napi::Object::New(info.Env());
    try {
      auto key = [&](int r) { return "resnets/rollcall/" + tag + "/" + std::to_string(r); };
      group->store->set(key(group->rank), std::vector<uint8_t>{1});
      auto deadline = std::chrono::steady_clock::now() + window;
      std::vector<int> missing;
      do {
        missing.clear();
        for (int r = 0; r < group->worldSize; r++) {
          if (!group->store->check({key(r)})) missing.push_back(r);
        }
        if (missing.empty()) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      } while (std::chrono::steady_clock::now() < deadline);
      auto list = Napi::Array::New(info.Env(), missing.size());
      for (size_t i = 0; i < missing.size(); i++) list.Set(static_cast<uint32_t>(i), Napi::Number::New(info.Env(), missing[i]));
      result.Set("missing", list);
    } catch (const std::exception& error) {
      result.Set("storeError", Napi::String::New(info.Env(), messageOf(error)));
    }
    return result;
  });

  RN_FN(exports, env, "ddpCreate", {
    // (params[], names[], bucketCapBytes, firstBucketCapBytes) -> reducer handle
    auto group = currentGroup();
    auto params = tensorList(info[0]);
    if (!info[1].IsArray()) throw std::invalid_argument("ddpCreate: expected an array of parameter names");
    auto names = info[1].As<Napi::Array>();
    const int64_t bucketCap = intArg(info[2]);
    const int64_t firstBucketCap = intArg(info[3]);
    if (params.empty()) throw std::invalid_argument("DistributedDataParallel: the module has no parameters that require grad");
    if (bucketCap <= 0 || firstBucketCap <= 0) throw std::invalid_argument("DistributedDataParallel: bucket sizes must be positive");
    std::unordered_map<size_t, std::string> paramNames;
    for (uint32_t i = 0; i < names.Length() && i < params.size(); i++) {
      if (names.Get(i).IsString()) paramNames[i] = names.Get(i).As<Napi::String>().Utf8Value();
    }
    std::vector<bool> expectSparse(params.size(), false);
    // As torch.nn.parallel.DistributedDataParallel: a small first bucket, then bucketCap,
    // assigned in parameter order and reduced in reverse (gradients of the last layers
    // are ready first in backward).
    auto assignment = c10d::compute_bucket_assignment_by_size(params, {static_cast<size_t>(firstBucketCap), static_cast<size_t>(bucketCap)}, expectSparse);
    auto buckets = std::get<0>(assignment);
    auto limits = std::get<1>(assignment);
    std::reverse(buckets.begin(), buckets.end());
    std::reverse(limits.begin(), limits.end());
    auto* holder = new ReducerHolder();
    holder->group = group;
    try {
      holder->reducer = new c10d::Reducer(params, buckets, limits, group->processGroup, expectSparse, bucketCap,
                                                        /*find_unused_parameters=*/false, /*gradient_as_bucket_view=*/false,
                                                        paramNames, firstBucketCap);
    } catch (...) {
      delete holder;
      throw;
    }
    auto handle = Napi::External<ReducerHolder>::New(info.Env(), holder, [](Napi::Env, ReducerHolder* h) { delete h; });
    if (napi_type_tag_object(info.Env(), handle, &kReducerHandleTag) != napi_ok) throw std::runtime_error("DistributedDataParallel: could not tag the reducer handle");
    auto result = Napi::Object::New(info.Env());
    result.Set("handle", handle);
    result.Set("buckets", Napi::Number::New(info.Env(), static_cast<double>(buckets.size())));
    return result;
  });
  RN_FN(exports, env, "ddpPrepareForward", {
    auto& holder = reducerArg(info[0]);
    // After the first iteration the Reducer reorders its buckets by the order gradients
    // became ready (a collective when it does: every rank calls this at the same step).
    holder.reducer->rebuild_buckets();
    holder.reducer->prepare_for_forward();
    return info.Env().Undefined();
  });
  RN_FN(exports, env, "ddpPrepareBackward", {
    // (reducer, outputs[]): the next backward all-reduces the gradients.
    reducerArg(info[0]).reducer->prepare_for_backward(tensorList(info[1]));
    return info.Env().Undefined();
  });
  RN_FN(exports, env, "ddpDestroy", {
    auto failure = holderArg(info[0]).release();
    if (!failure.empty()) throw std::runtime_error("DistributedDataParallel: freeing the reducer failed: " + failure);
    return info.Env().Undefined();
  });
  RN_FN(exports, env, "ddpBroadcastCoalesced", {
    // (tensors[], bufferBytes, root): module states from root, packed into few messages.
    auto group = currentGroup();
    auto tensors = tensorList(info[0]);
    at::NoGradGuard noGrad;
    c10d::broadcast_coalesced(group->processGroup, tensors, static_cast<size_t>(intArg(info[1])), static_cast<int>(intArg(info[2])));
    return info.Env().Undefined();
  });
  RN_FN(exports, env, "syncBatchNorm", {
    // (input, weight?, bias?, runningMean?, runningVar?, momentum, eps) -> output (training)
    auto weight = optionalTensor(info[1]);
    auto bias = optionalTensor(info[2]);
    auto runningMean = optionalTensor(info[3]);
    auto runningVar = optionalTensor(info[4]);
    const at::Tensor& input = RN_T(0);
    if (input.dim() < 2) throw std::invalid_argument("SyncBatchNorm: expected an input of at least 2 dimensions, got " + std::to_string(input.dim()));
    RN_WRAP(SyncBatchNormFunction::apply(input, weight.value_or(at::Tensor()), bias.value_or(at::Tensor()),
                                         runningMean.value_or(at::Tensor()), runningVar.value_or(at::Tensor()),
                                         doubleArg(info[5]), doubleArg(info[6])));
  });
}

}  // namespace resnets
