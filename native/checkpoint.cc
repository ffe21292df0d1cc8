// Activation checkpointing: a segment's forward runs without recording a graph, and an
// autograd node stands for it. When backward reaches that node it calls back into
// JavaScript to recompute the segment (with grad on and the random state the forward
// saw), runs a nested backward through the recomputed graph, and hands the input
// gradients on. Parameters inside the segment receive their gradients from the nested
// backward, as in PyTorch's reentrant torch.utils.checkpoint.
//
// The callback needs the JavaScript thread. libtorch's engine runs CPU nodes on the
// thread that called backward() (engine.cpp: a caller that is not a worker thread
// drains the CPU ready queue itself); nodes whose gradients live on another device
// run on that device's worker thread, where no JavaScript can run: those are refused
// with a clear error.
#include "common.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/function.h>

#include <mutex>

namespace resnets {

namespace {

// The JavaScript environment loaded on this thread, if any. Per thread, as each worker
// thread loads the addon into its own environment: a segment may only be recomputed on
// the thread (and in the environment) that created its node.
thread_local napi_env tJsEnv = nullptr;

// The states of the generators a segment may draw from: the CPU one always, and the
// CUDA generator of each device its inputs live on.
struct RngSnapshot {
  std::vector<std::pair<at::Generator, at::Tensor>> states;

  static RngSnapshot capture(const std::vector<at::Tensor>& inputs) {
    RngSnapshot snapshot;
    snapshot.add(at::detail::getDefaultCPUGenerator());
    for (const auto& input : inputs) {
      if (!input.defined() || !input.is_cuda()) continue;
      at::Generator generator = at::detail::getCUDAHooks().getDefaultCUDAGenerator(input.device().index());
      bool seen = false;
      for (auto& [g, state] : snapshot.states) seen = seen || g == generator;
      if (!seen) snapshot.add(generator);
    }
    return snapshot;
  }

  // The generators' current states, to put back after a recompute.
  RngSnapshot current() const {
    RngSnapshot now;
    for (const auto& [generator, state] : states) now.add(generator);
    return now;
  }

  void restore() const {
    for (const auto& [generator, state] : states) {
      at::Generator g = generator;
      std::lock_guard<std::mutex> lock(g.mutex());
      g.set_state(state);
    }
  }

 private:
  void add(at::Generator generator) {
    std::lock_guard<std::mutex> lock(generator.mutex());
    states.emplace_back(generator, generator.get_state());
  }
};

// Calls the segment function with `inputs` wrapped as handles and takes ownership of
// what it returns: the handles it was given and the ones it returned are disposed here,
// this side keeps its own references.
std::vector<at::Tensor> callSegment(Napi::Env env, const Napi::Function& segment, const std::vector<at::Tensor>& inputs) {
  Napi::Array handles = wrapList(env, inputs);
  // The input handles are disposed on every path, a throwing segment or a bad result too.
  auto disposeInputs = [&] {
    for (uint32_t i = 0; i < handles.Length(); i++) disposeHandle(env, handles[i]);
  };
  std::vector<at::Tensor> outputs;
  try {
    Napi::Value result = segment.Call({handles});
    if (!result.IsArray()) throw std::invalid_argument("checkpoint: the segment function must return an array of tensors");
    outputs = tensorList(result);
    auto returned = result.As<Napi::Array>();
    for (uint32_t i = 0; i < returned.Length(); i++) disposeHandle(env, returned[i]);
  } catch (...) {
    disposeInputs();
    throw;
  }
  disposeInputs();
  return outputs;
}

struct CheckpointBackward : public torch::autograd::Node {
  Napi::Env env;
  Napi::FunctionReference segment;
  std::vector<at::Tensor> inputs;  // detached: the node holds data, not the graph before it
  std::vector<bool> inputRequiresGrad;
  RngSnapshot rng;
  // Whether the forward ran under CPU autocast, and to which dtype: the recompute runs the
  // same way (as torch.utils.checkpoint does), although backward runs outside the region.
  AutocastState autocast = currentAutocast(false);

  CheckpointBackward(Napi::Env env, Napi::Function fn, std::vector<at::Tensor> saved, RngSnapshot snapshot)
      : env(env), segment(Napi::Persistent(fn)), rng(std::move(snapshot)) {
    for (auto& input : saved) {
      inputRequiresGrad.push_back(input.defined() && input.requires_grad());
      inputs.push_back(input.defined() ? input.detach() : input);
    }
  }

  ~CheckpointBackward() override {
    // A reference can only be released on the JavaScript thread.
    if (tJsEnv != static_cast<napi_env>(env)) segment.SuppressDestruct();
  }

  std::string name() const override { return "CheckpointBackward"; }

  void release_variables() override { inputs.clear(); }

  torch::autograd::variable_list apply(torch::autograd::variable_list&& grads) override {
    if (tJsEnv != static_cast<napi_env>(env)) {
      throw std::runtime_error(
          "activation checkpointing recomputes segments in JavaScript, so its backward must run on the thread that "
          "called backward(); libtorch runs the backward of non-CPU tensors on device threads: train on the CPU or "
          "turn checkpointing off");
    }
    if (inputs.empty() && !inputRequiresGrad.empty()) {
      throw std::runtime_error("checkpoint: backward through this segment a second time (its inputs were released; pass retainGraph)");
    }
    std::vector<at::Tensor> leaves;
    for (size_t i = 0; i < inputs.size(); i++) {
      at::Tensor leaf = inputs[i].defined() ? inputs[i].detach() : inputs[i];
      if (inputRequiresGrad[i]) leaf.set_requires_grad(true);
      leaves.push_back(leaf);
    }
    std::vector<at::Tensor> outputs;
    {
      RngSnapshot after = rng.current();
      AutocastState autocastAfter = currentAutocast(false);
      rng.restore();
      applyAutocast(false, autocast);
      at::AutoGradMode gradMode(true);
      try {
        outputs = callSegment(env, segment.Value(), leaves);
      } catch (const Napi::Error& error) {
        after.restore();
        applyAutocast(false, autocastAfter);
        throw std::runtime_error(std::string("checkpoint: recomputing a segment failed: ") + error.Message());
      } catch (...) {
        after.restore();
        applyAutocast(false, autocastAfter);
        throw;
      }
      after.restore();
      applyAutocast(false, autocastAfter);
    }
    if (outputs.size() != grads.size()) {
      throw std::runtime_error("checkpoint: the recomputed segment returned " + std::to_string(outputs.size()) +
                               " tensors, the forward returned " + std::to_string(grads.size()));
    }
    torch::autograd::variable_list roots, rootGrads;
    for (size_t i = 0; i < outputs.size(); i++) {
      if (grads[i].defined() && outputs[i].requires_grad()) {
        roots.push_back(outputs[i]);
        rootGrads.push_back(grads[i]);
      }
    }
    if (!roots.empty()) {
      at::AutoGradMode gradMode(false);
      torch::autograd::backward(roots, rootGrads, /*retain_graph=*/false, /*create_graph=*/false);
    }
    torch::autograd::variable_list inputGrads;
    for (size_t i = 0; i < leaves.size(); i++) inputGrads.push_back(inputRequiresGrad[i] ? leaves[i].grad() : at::Tensor());
    return inputGrads;
  }
};

}  // namespace

void registerCheckpointOps(Napi::Env env, Exports exports) {
  tJsEnv = env;

  RN_FN(exports, env, "checkpoint", {
    // (segment: (handles[]) => handles[], inputs[]) -> outputs[]
    // Runs `segment` without a graph and returns its outputs attached to one node that
    // recomputes it in backward.
    if (!info[0].IsFunction()) throw std::invalid_argument("checkpoint: expected a segment function");
    Napi::Function fn = info[0].As<Napi::Function>();
    std::vector<at::Tensor> inputs = tensorList(info[1]);
    RngSnapshot rng = RngSnapshot::capture(inputs);
    std::vector<at::Tensor> outputs;
    {
      at::NoGradGuard noGrad;
      outputs = callSegment(info.Env(), fn, inputs);
    }
    auto node = std::shared_ptr<CheckpointBackward>(new CheckpointBackward(info.Env(), fn, inputs, std::move(rng)),
                                                    torch::autograd::deleteNode);
    node->set_next_edges(torch::autograd::collect_next_edges(inputs));
    std::vector<at::Tensor> attached;
    for (auto& output : outputs) {
      if (!output.defined()) throw std::invalid_argument("checkpoint: the segment returned an undefined tensor");
      at::Tensor alias = output.detach();
      if (alias.is_floating_point() || alias.is_complex()) {
        torch::autograd::create_gradient_edge(alias, node);
      } else {
        node->add_input_metadata(torch::autograd::Node::undefined_input());
      }
      attached.push_back(alias);
    }
    return wrapList(info.Env(), attached);
  });
}

}  // namespace resnets
