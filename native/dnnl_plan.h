// A compiled oneDNN inference plan: the primitives of one forward pass for one input
// shape, their weights reordered once into each kernel's preferred layout, and the
// activation buffers (blocked layout, reused once a value is dead). JS lowers the
// traced graph into the plan's nodes (tools/dnnl/); this side builds and runs them.
#pragma once

#include "common.h"

#include <oneapi/dnnl/dnnl.hpp>

#include <string>
#include <unordered_map>
#include <vector>

namespace resnets {

struct DnnlStep {
  dnnl::primitive primitive;
  // (oneDNN execution argument, plan value id)
  std::vector<std::pair<int, int>> args;
  // What it computes and which kernel oneDNN picked ('brgconv:avx512_core_amx_bf16').
  std::string name;
  std::string impl;
  // `args` as the memory objects they name, set by finalize; a run only points the input and outputs at new data.
  std::unordered_map<int, dnnl::memory> execArgs;
};

struct DnnlPlan {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  dnnl::memory::data_type dtype = dnnl::memory::data_type::f32;
  // Every value's layout; temporaries made by reorders get negative ids.
  std::unordered_map<int, dnnl::memory::desc> descs;
  // Copies of a value in other layouts (reorder steps' temporaries), for later readers to reuse.
  std::unordered_map<int, std::vector<std::pair<dnnl::memory::desc, int>>> copiesOf;
  // A value that writes over another's buffer (the residual sum) maps to it.
  std::unordered_map<int, int> sharesBufferOf;
  // Weights, biases and zero fills, laid out once; their storage lives in `constantStorage`.
  std::unordered_map<int, dnnl::memory> constants;
  std::vector<at::Tensor> constantStorage;
  std::vector<DnnlStep> steps;
  int inputId = 0;
  std::vector<int64_t> inputDims;
  // Plan values the run hands back, and the dense f32 value each is reordered into.
  std::vector<int> outputIds;
  std::vector<int> denseOutputIds;
  // Last node (by index in the spec) that reads each value, for in-place sums.
  std::unordered_map<int, size_t> lastReader;
  int nextTemporary = -1;
  // Time each convolution's candidate kernels at build time and keep the fastest (dnnl_tune.cc).
  bool tune = false;
  // Choices made before (a convolution's problem -> its kernel and layouts, as text), reused instead of timing again.
  std::unordered_map<std::string, std::string> knownChoices;
  struct TuningChoice {
    std::string problem, choice;
    bool measured;
  };
  // Each tuned convolution's choice, in plan order.
  std::vector<TuningChoice> tuningChoices;
  size_t scratchpadBytes = 0;
  // Set by finalize: one memory object per value, over the pooled buffers.
  std::unordered_map<int, dnnl::memory> memories;
  std::vector<at::Tensor> buffers;
  at::Tensor scratchpad;
  int64_t activationBytes = 0;

  int root(int value) const {
    auto found = sharesBufferOf.find(value);
    return found == sharesBufferOf.end() ? value : root(found->second);
  }
  const dnnl::memory::desc& desc(int value) const;
  dnnl::memory::desc plainDesc(const dnnl::memory::dims& dims, dnnl::memory::data_type type) const;
  // `value` in layout `wanted`: the value itself, or its copy in that layout (made once: by a reorder
  // step of every run, or for a constant at build time).
  int inLayout(int value, const dnnl::memory::desc& wanted, const std::string& name);
  // `value` in the plan's data type (the f32 input feeding a bf16 plan's pooling, say).
  int inPlanType(int value, const std::string& name);
  void addStep(dnnl::primitive primitive, std::vector<std::pair<int, int>> args, const std::string& name, const char* impl);
  // A new constant value holding `memory`.
  int addConstant(dnnl::memory memory);
  // A copy of `source` in layout `to`, kept with the plan's constants.
  dnnl::memory reorderedConstant(dnnl::memory source, const dnnl::memory::desc& to);
  // A constant tensor reordered once from its dense layout `from` into `to`.
  dnnl::memory constant(const at::Tensor& tensor, const dnnl::memory::dims& dims, dnnl::memory::format_tag from,
                        const dnnl::memory::desc& to);
};

inline bool contains(const std::vector<int>& values, int value) {
  for (int v : values)
    if (v == value) return true;
  return false;
}

// dnnl_build.cc: one node of the spec into steps of the plan.
void buildDnnlNode(DnnlPlan& plan, const Napi::Object& node, size_t index);
// What a tuned choice depends on besides the threads, the producer's layout, the post-ops
// and the residual sum operand's layout (dnnl_tune.cc writes them all into the tuning cache's key).
struct ConvolutionGeometry {
  // The plan's data type: a bf16 plan's first convolution reads the same f32 input as an fp32 plan's.
  dnnl::memory::data_type dtype;
  std::string algorithms;
  dnnl::memory::dims weights, dst, stride, padding, dilation;
  bool bias;
};
// dnnl_tune.cc: the kernel for a convolution among `candidates`: the one chosen before for
// the same problem (earlier in this plan, or knownChoices from the tuning cache), else the
// fastest measured, counting the reorders it adds; recorded in plan.tuningChoices.
const dnnl::convolution_forward::primitive_desc& tunedConvolution(DnnlPlan& plan,
                                                                  const std::vector<dnnl::convolution_forward::primitive_desc>& candidates,
                                                                  const ConvolutionGeometry& geometry, const dnnl::memory::desc& producer,
                                                                  const dnnl::memory::desc* sumOperand, const dnnl::post_ops& postOps);
// dnnl_plan.cc
std::string dnnlIsaName(dnnl::cpu_isa isa);

}  // namespace resnets
