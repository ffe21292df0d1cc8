// Autograd, grad mode, random seeds, threads, memory figures and fused optimiser steps.
#include "common.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/version.h>

#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/function.h>

#include <cmath>
#include <mutex>

namespace resnets {

namespace {

void seedGenerator(at::Generator generator, uint64_t seed) {
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_current_seed(seed);
}

// Tensor hooks call one JS dispatcher with (hook id, gradient); the JS side maps ids to
// functions, so no per-hook reference outlives the JS environment. One dispatcher per
// thread, as each worker thread loads its own JS environment; it is set once and
// deliberately never freed.
struct HookDispatcher {
  Napi::FunctionReference function;
  napi_env env = nullptr;
};
thread_local HookDispatcher* hookDispatcher = nullptr;

at::Tensor runHook(int64_t id, const at::Tensor& grad) {
  // The autograd engine runs CPU graphs on the thread that called backward(); a thread
  // without a JS environment (a device thread of the engine) cannot call into JS.
  if (!hookDispatcher) {
    throw std::runtime_error("tensor hooks run only when backward() runs on a JavaScript thread (CPU graphs, synchronous backward)");
  }
  Napi::Env env(hookDispatcher->env);
  Napi::HandleScope scope(env);
  Napi::Value result;
  try {
    result = hookDispatcher->function.Call({Napi::Number::New(env, static_cast<double>(id)), wrap(env, grad)});
  } catch (const Napi::Error& error) {
    throw std::runtime_error("a tensor hook threw: " + error.Message());
  }
  if (result.IsUndefined() || result.IsNull()) return at::Tensor();
  at::Tensor replacement = unwrap(result);
  if (!replacement.sizes().equals(grad.sizes())) {
    throw std::runtime_error("a tensor hook returned a gradient of shape " + c10::str(replacement.sizes()) + ", expected " +
                             c10::str(grad.sizes()));
  }
  return replacement;
}

}  // namespace

void registerAutogradOps(Napi::Env env, Exports exports) {
  RN_FN(exports, env, "setRequiresGrad", RN_T(0).set_requires_grad(boolArg(info[1])); return info.Env().Undefined(););
  RN_FN(exports, env, "requiresGrad", return Napi::Boolean::New(info.Env(), RN_T(0).requires_grad()););
  RN_FN(exports, env, "isLeaf", return Napi::Boolean::New(info.Env(), RN_T(0).is_leaf()););
  RN_FN(exports, env, "backward", {
    // (t, gradient?, retainGraph)
    auto gradient = optionalTensor(info[1]);
    RN_T(0).backward(gradient ? *gradient : at::Tensor(), c10::optional<bool>(boolArg(info[2])), false);
    return info.Env().Undefined();
  });
  RN_FN(exports, env, "grad", {
    const at::Tensor& g = RN_T(0).grad();
    if (!g.defined()) return info.Env().Null();
    RN_WRAP(g);
  });
  RN_FN(exports, env, "setGrad", {
    at::Tensor& t = RN_T(0);
    auto value = optionalTensor(info[1]);
    // Writing mutable_grad() bypasses libtorch's checks; a mismatched gradient would
    // only fail (or broadcast silently) at the next backward(), so refuse it here.
    if (value && !value->sizes().equals(t.sizes())) {
      throw std::invalid_argument("grad must have the shape of the tensor: got " + c10::str(value->sizes()) +
                                  ", expected " + c10::str(t.sizes()));
    }
    if (value && (value->scalar_type() != t.scalar_type() || value->device() != t.device())) {
      throw std::invalid_argument(std::string("grad must have the dtype and device of the tensor: got ") +
                                  c10::toString(value->scalar_type()) + " on " + value->device().str() + ", expected " +
                                  c10::toString(t.scalar_type()) + " on " + t.device().str());
    }
    t.mutable_grad() = value ? *value : at::Tensor();
    return info.Env().Undefined();
  });
  RN_FN(exports, env, "detach", RN_WRAP(RN_T(0).detach()););
  RN_FN(exports, env, "gradFnName", {
    const auto& function = RN_T(0).grad_fn();
    if (!function) return info.Env().Null();
    // Python prints the bare class name (AddBackward0), libtorch the qualified one.
    std::string name = function->name();
    auto colon = name.rfind("::");
    return Napi::String::New(info.Env(), colon == std::string::npos ? name : name.substr(colon + 2));
  });
  RN_FN(exports, env, "retainGrad", RN_T(0).retain_grad(); return info.Env().Undefined(););
  RN_FN(exports, env, "retainsGrad", return Napi::Boolean::New(info.Env(), RN_T(0).retains_grad()););
  RN_FN(exports, env, "autogradGrad", {
    // (outputs[], inputs[], gradOutputs[] (empty: ones for scalars), retainGraph, createGraph, allowUnused)
    auto outputs = tensorList(info[0]);
    auto inputs = tensorList(info[1]);
    auto gradOutputs = tensorList(info[2]);
    if (!gradOutputs.empty() && gradOutputs.size() != outputs.size()) {
      throw std::invalid_argument("autograd.grad: " + std::to_string(gradOutputs.size()) + " gradOutputs for " +
                                  std::to_string(outputs.size()) + " outputs");
    }
    bool createGraph = boolArg(info[4]);
    auto grads = torch::autograd::grad(outputs, inputs, gradOutputs, c10::optional<bool>(boolArg(info[3]) || createGraph),
                                       createGraph, boolArg(info[5]));
    auto result = Napi::Array::New(info.Env(), grads.size());
    for (size_t i = 0; i < grads.size(); i++) {
      result.Set(static_cast<uint32_t>(i), grads[i].defined() ? wrap(info.Env(), grads[i]) : info.Env().Null());
    }
    return result;
  });
  RN_FN(exports, env, "setHookDispatcher", {
    if (!info[0].IsFunction()) throw std::invalid_argument("setHookDispatcher: expected a function");
    if (!hookDispatcher) hookDispatcher = new HookDispatcher();
    hookDispatcher->function = Napi::Persistent(info[0].As<Napi::Function>());
    hookDispatcher->function.SuppressDestruct();
    hookDispatcher->env = info.Env();
    return info.Env().Undefined();
  });
  RN_FN(exports, env, "registerHook", {
    // (t, hook id) -> handle for removeHook
    at::Tensor& t = RN_T(0);
    if (!t.requires_grad()) throw std::invalid_argument("cannot register a hook on a tensor that does not require grad");
    int64_t id = intArg(info[1]);
    unsigned position = t.register_hook([id](const at::Tensor& grad) { return runHook(id, grad); });
    return Napi::Number::New(info.Env(), position);
  });
  RN_FN(exports, env, "removeHook", RN_T(0).remove_hook(static_cast<unsigned>(intArg(info[1]))); return info.Env().Undefined(););
  RN_FN(exports, env, "isGradEnabled", return Napi::Boolean::New(info.Env(), at::GradMode::is_enabled()););
  RN_FN(exports, env, "setGradEnabled", at::GradMode::set_enabled(boolArg(info[0])); return info.Env().Undefined(););

  RN_FN(exports, env, "manualSeed", {
    uint64_t seed = static_cast<uint64_t>(intArg(info[0]));
    seedGenerator(at::detail::getDefaultCPUGenerator(), seed);
    if (at::hasCUDA()) {
      for (int64_t i = 0; i < at::detail::getCUDAHooks().getNumGPUs(); i++) {
        seedGenerator(at::detail::getCUDAHooks().getDefaultCUDAGenerator(i), seed);
      }
    }
    return info.Env().Undefined();
  });
  RN_FN(exports, env, "setNumThreads", {
    int64_t threads = intArg(info[0]);
    if (threads < 1 || threads > 65536) {
      throw std::invalid_argument("thread count must be between 1 and 65536, got " + std::to_string(threads));
    }
    at::set_num_threads(static_cast<int>(threads));
    return info.Env().Undefined();
  });
  RN_FN(exports, env, "getNumThreads", return Napi::Number::New(info.Env(), at::get_num_threads()););
  RN_FN(exports, env, "cudaIsAvailable", return Napi::Boolean::New(info.Env(), at::hasCUDA()););
  RN_FN(exports, env, "cudaDeviceCount", {
    int count = at::hasCUDA() ? at::detail::getCUDAHooks().getNumGPUs() : 0;
    return Napi::Number::New(info.Env(), count);
  });
  RN_FN(exports, env, "memory", {
    auto result = Napi::Object::New(info.Env());
    result.Set("liveTensors", Napi::Number::New(info.Env(), static_cast<double>(liveTensorCount())));
    result.Set("nativeBytes", Napi::Number::New(info.Env(), static_cast<double>(liveTensorBytes())));
    return result;
  });
  RN_FN(exports, env, "version", return Napi::String::New(info.Env(), TORCH_VERSION););

  RN_FN(exports, env, "sgdStep", {
    // (params[], grads[], momentumBuffers[], lr, momentum, dampening, weightDecays[], nesterov, firstStep)
    at::NoGradGuard noGrad;
    auto params = tensorList(info[0]);
    auto grads = tensorList(info[1]);
    auto buffers = tensorList(info[2]);
    double lr = doubleArg(info[3]), momentum = doubleArg(info[4]), dampening = doubleArg(info[5]);
    auto decays = info[6].As<Napi::Array>();
    bool nesterov = boolArg(info[7]), first = boolArg(info[8]);
    // Lists of unequal length would index past the end of a vector below.
    if (grads.size() != params.size() || decays.Length() != params.size() ||
        (momentum != 0 && buffers.size() != params.size())) {
      throw std::invalid_argument("sgdStep: params, grads, momentum buffers and weight decays differ in length");
    }
    for (size_t i = 0; i < params.size(); i++) {
      at::Tensor grad = grads[i];
      double decay = decays.Get(static_cast<uint32_t>(i)).As<Napi::Number>().DoubleValue();
      if (decay != 0) grad = grad.add(params[i], decay);
      if (momentum != 0) {
        at::Tensor& buffer = buffers[i];
        if (first) buffer.copy_(grad); else buffer.mul_(momentum).add_(grad, 1 - dampening);
        grad = nesterov ? grad.add(buffer, momentum) : buffer;
      }
      params[i].add_(grad, -lr);
    }
    return info.Env().Undefined();
  });
  RN_FN(exports, env, "adamwStep", {
    // (params[], grads[], expAvg[], expAvgSq[], step, lr, beta1, beta2, eps, weightDecays[])
    at::NoGradGuard noGrad;
    auto params = tensorList(info[0]);
    auto grads = tensorList(info[1]);
    auto expAvg = tensorList(info[2]);
    auto expAvgSq = tensorList(info[3]);
    double step = doubleArg(info[4]), lr = doubleArg(info[5]), beta1 = doubleArg(info[6]), beta2 = doubleArg(info[7]),
           eps = doubleArg(info[8]);
    auto decays = info[9].As<Napi::Array>();
    if (grads.size() != params.size() || expAvg.size() != params.size() || expAvgSq.size() != params.size() ||
        decays.Length() != params.size()) {
      throw std::invalid_argument("adamwStep: params, grads, moments and weight decays differ in length");
    }
    double correction1 = 1 - std::pow(beta1, step);
    double correction2Sqrt = std::sqrt(1 - std::pow(beta2, step));
    for (size_t i = 0; i < params.size(); i++) {
      double decay = decays.Get(static_cast<uint32_t>(i)).As<Napi::Number>().DoubleValue();
      if (decay != 0) params[i].mul_(1 - lr * decay);
      expAvg[i].lerp_(grads[i], 1 - beta1);
      expAvgSq[i].mul_(beta2).addcmul_(grads[i], grads[i], 1 - beta2);
      at::Tensor denom = (expAvgSq[i].sqrt() / correction2Sqrt).add_(eps);
      params[i].addcdiv_(expAvg[i], denom, -lr / correction1);
    }
    return info.Env().Undefined();
  });
  RN_FN(exports, env, "clipGradNorm", {
    // (grads[], maxNorm) -> total norm before clipping
    at::NoGradGuard noGrad;
    auto grads = tensorList(info[0]);
    double maxNorm = doubleArg(info[1]);
    if (grads.empty()) return Napi::Number::New(info.Env(), 0);
    std::vector<at::Tensor> norms;
    norms.reserve(grads.size());
    for (auto& g : grads) norms.push_back(at::norm(g, 2));
    double total = at::norm(at::stack(norms), 2).item<double>();
    double coefficient = maxNorm / (total + 1e-6);
    if (coefficient < 1) for (auto& g : grads) g.mul_(coefficient);
    return Napi::Number::New(info.Env(), total);
  });
}

}  // namespace resnets
