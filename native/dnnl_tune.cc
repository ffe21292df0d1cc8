// Measured kernel choice for a convolution: every implementation oneDNN offers for it
// (each with the layouts it prefers, and those that read the producer's layout as it is),
// timed on scratch buffers at the plan's real shape, counting the reorders a choice
// would add before it (its source) and for its residual sum (the operand's copy). The
// cheapest wins. oneDNN's own first choice is the kernel its dispatch list ranks first
// for the shape, not a measurement, and it ignores the layout the producer left.
#include "dnnl_plan.h"

#include <chrono>
#include <cstring>
#include <limits>

namespace resnets {

namespace {

using dnnl::memory;

// Small kernels run until their timings cover a few milliseconds, so one preemption does not decide.
constexpr int kWarmups = 1;
constexpr int kMinRuns = 3;
constexpr int kMaxRuns = 30;
constexpr double kMinTotalMs = 4;

memory zeroed(const memory::desc& desc, const dnnl::engine& engine) {
  memory mem(desc, engine);
  std::memset(mem.get_data_handle(), 0, desc.get_size());
  return mem;
}

// The best time after the warm-ups, in milliseconds.
double bestTime(dnnl::primitive& primitive, const std::unordered_map<int, memory>& args, dnnl::stream& stream) {
  double best = std::numeric_limits<double>::infinity(), total = 0;
  for (int i = 0; i < kWarmups + kMaxRuns; i++) {
    auto start = std::chrono::steady_clock::now();
    primitive.execute(stream, args);
    stream.wait();
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (i < kWarmups) continue;
    best = std::min(best, ms);
    total += ms;
    if (i + 1 - kWarmups >= kMinRuns && total >= kMinTotalMs) break;
  }
  return best;
}

class ReorderCosts {
 public:
  explicit ReorderCosts(DnnlPlan& plan) : plan_(plan) {}

  double between(const memory::desc& from, const memory::desc& to) {
    if (from == to) return 0;
    for (const auto& [pair, ms] : known_)
      if (pair.first == from && pair.second == to) return ms;
    memory src = zeroed(from, plan_.engine), dst = zeroed(to, plan_.engine);
    dnnl::primitive reorder = dnnl::reorder(src, dst);
    double ms = bestTime(reorder, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}}, plan_.stream);
    known_.push_back({{from, to}, ms});
    return ms;
  }

 private:
  DnnlPlan& plan_;
  std::vector<std::pair<std::pair<memory::desc, memory::desc>, double>> known_;
};

}  // namespace

size_t fastestConvolution(DnnlPlan& plan, const std::vector<dnnl::convolution_forward::primitive_desc>& candidates,
                          const memory::desc& producer, const memory::desc* sumOperand, bool hasBias) {
  if (candidates.size() < 2) return 0;
  ReorderCosts reorders(plan);
  size_t best = 0;
  double bestMs = std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < candidates.size(); i++) {
    const auto& pd = candidates[i];
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, zeroed(pd.src_desc(), plan.engine)},
                                         {DNNL_ARG_WEIGHTS, zeroed(pd.weights_desc(), plan.engine)},
                                         {DNNL_ARG_DST, zeroed(pd.dst_desc(), plan.engine)},
                                         {DNNL_ARG_SCRATCHPAD, zeroed(pd.scratchpad_desc(), plan.engine)}};
    if (hasBias) args.emplace(DNNL_ARG_BIAS, zeroed(pd.bias_desc(), plan.engine));
    dnnl::primitive primitive = dnnl::convolution_forward(pd);
    double ms = bestTime(primitive, args, plan.stream) + reorders.between(producer, pd.src_desc());
    if (sumOperand) ms += reorders.between(*sumOperand, pd.dst_desc());
    if (ms < bestMs) {
      bestMs = ms;
      best = i;
    }
  }
  return best;
}

}  // namespace resnets
