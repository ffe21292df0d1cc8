// Measured kernel choice for a convolution: every implementation oneDNN offers for it
// (each with the layouts it prefers, and those that read the producer's layout as it is),
// timed on scratch buffers at the plan's real shape, counting the reorders a choice
// would add before it (its source) and for its residual sum (the operand's copy). The
// cheapest wins. oneDNN's own first choice is the kernel its dispatch list ranks first
// for the shape, not a measurement, and it ignores the layout the producer left. A choice
// is timed once per problem (its key spells out what the choice depends on): later ones,
// in this plan or from the tuning cache (knownChoices), are taken as they were.
#include "dnnl_plan.h"

#include <oneapi/dnnl/dnnl_debug.h>

#include <omp.h>

#include <chrono>
#include <cstring>
#include <limits>
#include <sstream>

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

void appendDims(std::ostringstream& out, const dnnl_dims_t dims, int count) {
  for (int i = 0; i < count; i++) out << (i ? "x" : "") << dims[i];
}

std::string layoutText(const memory::desc& desc) {
  const dnnl_memory_desc_t& md = desc.data;
  std::ostringstream out;
  out << dnnl_dt2str(md.data_type) << ":";
  appendDims(out, md.dims, md.ndims);
  if (md.format_kind != dnnl_blocked) return out.str() + ":format" + std::to_string(md.format_kind);
  const auto& blocking = md.format_desc.blocking;
  out << ":strides ";
  appendDims(out, blocking.strides, md.ndims);
  out << ":blocks";
  for (int i = 0; i < blocking.inner_nblks; i++) out << " " << blocking.inner_idxs[i] << "/" << blocking.inner_blks[i];
  if (md.offset0 != 0) out << ":offset " << md.offset0;
  return out.str();
}

std::string convolutionProblem(const ConvolutionGeometry& geometry, const memory::desc& producer, const memory::desc* sumOperand,
                               const dnnl::post_ops& postOps) {
  std::ostringstream out;
  // oneDNN's OpenMP runtime reads omp_get_max_threads(), which libtorch's thread count need not match.
  out << "conv threads " << omp_get_max_threads() << " " << dnnl_dt2str(static_cast<dnnl_data_type_t>(geometry.dtype)) << " "
      << geometry.algorithms << " src " << layoutText(producer);
  auto list = [&](const char* name, const memory::dims& dims) {
    out << " " << name;
    for (size_t i = 0; i < dims.size(); i++) out << (i ? "x" : " ") << dims[i];
  };
  list("weights", geometry.weights);
  list("dst", geometry.dst);
  list("stride", geometry.stride);
  list("padding", geometry.padding);
  list("dilation", geometry.dilation);
  out << (geometry.bias ? " bias" : "") << " post";
  for (int i = 0; i < postOps.len(); i++) {
    if (postOps.kind(i) == dnnl::primitive::kind::sum) {
      out << " sum(" << (sumOperand ? layoutText(*sumOperand) : "?") << ")";
    } else if (postOps.kind(i) == dnnl::primitive::kind::eltwise) {
      float scale, alpha, beta;
      dnnl::algorithm alg;
      postOps.get_params_eltwise(i, scale, alg, alpha, beta);
      out << " eltwise " << static_cast<int>(alg) << "(" << alpha << "," << beta << ")";
    } else {
      out << " kind " << static_cast<int>(postOps.kind(i));
    }
  }
  return out.str();
}

std::string convolutionChoice(const dnnl::convolution_forward::primitive_desc& pd) {
  return std::string(pd.impl_info_str()) + " src " + layoutText(pd.src_desc()) + " weights " + layoutText(pd.weights_desc()) +
         " dst " + layoutText(pd.dst_desc());
}

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

}  // namespace

const dnnl::convolution_forward::primitive_desc& tunedConvolution(DnnlPlan& plan,
                                                                  const std::vector<dnnl::convolution_forward::primitive_desc>& candidates,
                                                                  const ConvolutionGeometry& geometry, const memory::desc& producer,
                                                                  const memory::desc* sumOperand, const dnnl::post_ops& postOps) {
  std::string problem = convolutionProblem(geometry, producer, sumOperand, postOps);
  const dnnl::convolution_forward::primitive_desc* chosen = nullptr;
  auto known = plan.knownChoices.find(problem);
  if (known != plan.knownChoices.end()) {
    for (const auto& candidate : candidates) {
      if (convolutionChoice(candidate) != known->second) continue;
      chosen = &candidate;
      break;
    }
  }
  bool measured = chosen == nullptr;  // a choice this oneDNN no longer offers is measured again
  if (measured) chosen = &candidates.at(fastestConvolution(plan, candidates, producer, sumOperand, geometry.bias));
  plan.tuningChoices.push_back({problem, convolutionChoice(*chosen), measured});
  plan.knownChoices[problem] = plan.tuningChoices.back().choice;  // the same convolution later in the plan
  return *chosen;
}

}  // namespace resnets
