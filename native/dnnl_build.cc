// One node of a lowered graph into oneDNN primitives: convolution and inner product
// with their post-ops (the residual sum, activations), pooling, binary ops with
// broadcast (squeeze-and-excitation), batch normalisation, PReLU, concatenation, zero fills.
#include "dnnl_plan.h"

#include <climits>
#include <optional>
#include <stdexcept>

namespace resnets {

namespace {

using dnnl::algorithm;
using dnnl::memory;
using tag = dnnl::memory::format_tag;

constexpr int kNoValue = INT_MIN;
// The plan's one shared scratchpad (see finalize in dnnl_plan.cc).
constexpr int kScratchpad = INT_MIN + 1;

memory::dims dimsOf(const Napi::Object& node, const char* key) {
  auto list = intList(node.Get(key));
  return memory::dims(list.begin(), list.end());
}

std::vector<int> idsOf(const Napi::Object& node, const char* key) {
  std::vector<int> ids;
  for (int64_t id : intList(node.Get(key))) ids.push_back(static_cast<int>(id));
  return ids;
}

algorithm eltwiseAlgorithm(const std::string& name) {
  if (name == "relu") return algorithm::eltwise_relu;  // alpha: the negative slope (leaky ReLU)
  if (name == "logistic") return algorithm::eltwise_logistic;
  if (name == "tanh") return algorithm::eltwise_tanh;
  if (name == "clip") return algorithm::eltwise_clip_v2;  // alpha..beta, inclusive (hardtanh, ReLU6)
  if (name == "swish") return algorithm::eltwise_swish;
  if (name == "hardswish") return algorithm::eltwise_hardswish;
  if (name == "gelu_erf") return algorithm::eltwise_gelu_erf;
  if (name == "elu") return algorithm::eltwise_elu;
  if (name == "linear") return algorithm::eltwise_linear;  // alpha * x + beta
  throw std::invalid_argument("dnnl plan: unknown eltwise algorithm '" + name + "'");
}

struct PostOps {
  dnnl::post_ops ops;
  int sumInput = kNoValue;
  // Only a trailing ReLU, for batch normalisation's fuse_norm_relu flag.
  bool onlyRelu = false;
  size_t count = 0;
};

PostOps readPostOps(const Napi::Object& node) {
  PostOps post;
  if (!node.Has("postOps")) return post;
  auto list = node.Get("postOps").As<Napi::Array>();
  bool allRelu = true;
  for (uint32_t i = 0; i < list.Length(); i++) {
    auto op = list.Get(i).As<Napi::Object>();
    auto kind = op.Get("kind").As<Napi::String>().Utf8Value();
    if (kind == "sum") {
      if (post.sumInput != kNoValue) throw std::invalid_argument("dnnl plan: at most one sum post-op");
      post.sumInput = static_cast<int>(intArg(op.Get("input")));
      post.ops.append_sum(1.f);
      allRelu = false;
    } else {
      auto name = op.Get("algorithm").As<Napi::String>().Utf8Value();
      float alpha = static_cast<float>(doubleArg(op.Get("alpha")));
      float beta = static_cast<float>(doubleArg(op.Get("beta")));
      if (name != "relu" || alpha != 0.f) allRelu = false;
      post.ops.append_eltwise(1.f, eltwiseAlgorithm(name), alpha, beta);
    }
    post.count++;
  }
  post.onlyRelu = post.count == 1 && allRelu;
  return post;
}

dnnl::primitive_attr attributes(const PostOps& post) {
  dnnl::primitive_attr attr;
  attr.set_post_ops(post.ops);
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

/**
 * Gives `output` the layout `dst`. With a sum post-op the primitive adds into its
 * destination: the sum's operand is taken over in place when nothing reads it later,
 * else copied there first.
 */
void defineOutput(DnnlPlan& plan, int output, const memory::desc& dst, const PostOps& post, size_t index,
                  const std::vector<int>& sources, const std::string& name) {
  plan.descs[output] = dst;
  if (post.sumInput == kNoValue) return;
  int operand = post.sumInput;
  bool takeOver = operand != plan.inputId && !plan.constants.count(operand) && plan.lastReader[operand] == index &&
                  plan.desc(operand) == dst && !contains(sources, operand);
  if (takeOver) {
    plan.sharesBufferOf[output] = operand;
    return;
  }
  auto pd = dnnl::reorder::primitive_desc(plan.engine, plan.desc(operand), plan.engine, dst);
  plan.addStep(dnnl::reorder(pd), {{DNNL_ARG_SRC, operand}, {DNNL_ARG_DST, output}}, name + " (sum operand copy)",
               pd.impl_info_str());
}

void noteScratchpad(DnnlPlan& plan, const dnnl::primitive_desc_base& pd) {
  plan.scratchpadBytes = std::max(plan.scratchpadBytes, pd.scratchpad_desc().get_size());
}

bool isReference(const dnnl::primitive_desc_base& pd) { return std::string(pd.impl_info_str()).rfind("ref", 0) == 0; }

int vectorConstant(DnnlPlan& plan, const at::Tensor& tensor) {
  memory::dims dims{tensor.numel()};
  auto desc = plan.plainDesc(dims, memory::data_type::f32);
  return plan.addConstant(plan.constant(tensor, dims, tag::x, desc));
}

// Every implementation oneDNN has for the convolution under each algorithm, with the
// layouts it prefers (`any`) and with the given source layouts; duplicates once.
template <typename Operation>
std::vector<dnnl::convolution_forward::primitive_desc> convolutionCandidates(const std::vector<algorithm>& algorithms,
                                                                             const std::vector<memory::desc>& sources,
                                                                             Operation operation, const dnnl::primitive_attr& attr,
                                                                             const dnnl::engine& engine) {
  std::vector<dnnl::convolution_forward::primitive_desc> candidates;
  auto known = [&](const dnnl::convolution_forward::primitive_desc& pd) {
    for (const auto& other : candidates) {
      if (std::string(other.impl_info_str()) == pd.impl_info_str() && other.src_desc() == pd.src_desc() &&
          other.weights_desc() == pd.weights_desc() && other.dst_desc() == pd.dst_desc())
        return true;
    }
    return false;
  };
  for (algorithm alg : algorithms) {
    for (const auto& source : sources) {
      // The iterator behind next_impl reads the operation and attributes in place: both outlive it.
      auto op = operation(alg, source);
      dnnl::convolution_forward::primitive_desc pd;
      try {
        pd = dnnl::convolution_forward::primitive_desc(op, attr, engine);
      } catch (const dnnl::error&) {
        continue;  // no kernel for this algorithm or layout
      }
      do {
        // The reference kernels are plain loops, slower by orders of magnitude and slow to time.
        if (known(pd) || isReference(pd)) continue;
        // Its own copy: the iterator's current descriptor is replaced by next_impl.
        dnnl_primitive_desc_t copy = nullptr;
        dnnl::error::wrap_c_api(dnnl_primitive_desc_clone(&copy, pd.get()), "could not copy a primitive descriptor");
        candidates.emplace_back(copy);
      } while (pd.next_impl());
    }
  }
  if (candidates.empty()) throw std::invalid_argument("no oneDNN convolution kernel fits");
  return candidates;
}

void buildConvolution(DnnlPlan& plan, const Napi::Object& node, size_t index, const std::string& name) {
  int input = idsOf(node, "inputs").at(0);
  int output = static_cast<int>(intArg(node.Get("output")));
  at::Tensor weight = unwrap(node.Get("weight"));
  auto bias = optionalTensor(node.Get("bias"));
  int64_t groups = intArg(node.Get("groups"));
  auto stride = dimsOf(node, "stride");
  auto padding = dimsOf(node, "padding");
  auto dilation = dimsOf(node, "dilation");
  for (auto& d : dilation) d -= 1;  // oneDNN counts the gaps between taps
  auto dstDims = dimsOf(node, "outputShape");
  auto srcDims = plan.desc(input).dims();
  int64_t out = weight.size(0);
  memory::dims weightDims = groups == 1 ? memory::dims{out, weight.size(1), weight.size(2), weight.size(3)}
                                        : memory::dims{groups, out / groups, weight.size(1), weight.size(2), weight.size(3)};
  PostOps post = readPostOps(node);
  auto attr = attributes(post);
  auto dt = plan.dtype;
  memory::desc srcMd(srcDims, dt, tag::any), weightMd(weightDims, dt, tag::any), dstMd(dstDims, dt, tag::any);
  memory::desc biasMd({out}, memory::data_type::f32, tag::x);
  auto operation = [&](algorithm alg, const memory::desc& source) {
    return bias ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference, alg, source, weightMd, biasMd, dstMd,
                                                  stride, dilation, padding, padding)
                : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference, alg, source, weightMd, dstMd, stride,
                                                  dilation, padding, padding);
  };
  auto describe = [&](algorithm alg, const memory::desc& source) {
    return dnnl::convolution_forward::primitive_desc(operation(alg, source), attr, plan.engine);
  };
  auto requested = node.Get("algorithm").As<Napi::String>().Utf8Value();
  dnnl::convolution_forward::primitive_desc pd;
  std::string note;
  if (plan.tune) {
    auto candidates = convolutionCandidates(requested == "direct" ? std::vector<algorithm>{algorithm::convolution_direct}
                                                                  : std::vector<algorithm>{algorithm::convolution_direct,
                                                                                           algorithm::convolution_winograd},
                                            {srcMd, plan.desc(input)}, operation, attr, plan.engine);
    const memory::desc* sumOperand = post.sumInput == kNoValue ? nullptr : &plan.desc(post.sumInput);
    ConvolutionGeometry geometry{plan.dtype, requested == "direct" ? "direct" : "direct+winograd", weightDims, dstDims, stride, padding,
                                 dilation, bias.has_value()};
    pd = tunedConvolution(plan, candidates, geometry, plan.desc(input), sumOperand, post.ops);
    bool measured = plan.tuningChoices.back().measured;
    note = measured ? " (tuned of " + std::to_string(candidates.size()) + ")" : " (tuned before, of " + std::to_string(candidates.size()) + ")";
  } else if (requested == "winograd" || requested == "auto") {
    try {
      pd = describe(requested == "winograd" ? algorithm::convolution_winograd : algorithm::convolution_auto, srcMd);
    } catch (const dnnl::error&) {
      note = " (" + requested + " unavailable: direct)";
    }
  }
  if (!pd) pd = describe(algorithm::convolution_direct, srcMd);
  int src = plan.inLayout(input, pd.src_desc(), name);
  int weights = plan.addConstant(plan.constant(weight, weightDims, groups == 1 ? tag::oihw : tag::goihw, pd.weights_desc()));
  std::vector<std::pair<int, int>> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, output}};
  if (bias) args.push_back({DNNL_ARG_BIAS, vectorConstant(plan, *bias)});
  args.push_back({DNNL_ARG_SCRATCHPAD, kScratchpad});
  defineOutput(plan, output, pd.dst_desc(), post, index, {input, src}, name);
  noteScratchpad(plan, pd);
  plan.addStep(dnnl::convolution_forward(pd), args, name + note, pd.impl_info_str());
}

void buildInnerProduct(DnnlPlan& plan, const Napi::Object& node, size_t index, const std::string& name) {
  int input = plan.inPlanType(idsOf(node, "inputs").at(0), name);
  int output = static_cast<int>(intArg(node.Get("output")));
  at::Tensor weight = unwrap(node.Get("weight"));
  auto bias = optionalTensor(node.Get("bias"));
  auto srcDims = plan.desc(input).dims();
  int64_t out = weight.size(0);
  // A 4-D source (pooled features, [N, C, 1, 1]) is read as flattened, so the weight takes its shape.
  memory::dims weightDims{out};
  for (size_t d = 1; d < srcDims.size(); d++) weightDims.push_back(srcDims[d]);
  tag weightTag = srcDims.size() == 4 ? tag::oihw : tag::oi;
  if (srcDims.size() != 4 && srcDims.size() != 2) throw std::invalid_argument(name + ": a linear layer needs a 2-D or 4-D input");
  PostOps post = readPostOps(node);
  auto attr = attributes(post);
  auto dt = plan.dtype;
  memory::desc weightMd(weightDims, dt, tag::any), dstMd({srcDims[0], out}, dt, tag::any);
  memory::desc biasMd({out}, memory::data_type::f32, tag::x);
  auto describe = [&](const memory::desc& srcMd) {
    auto desc = bias ? dnnl::inner_product_forward::desc(dnnl::prop_kind::forward_inference, srcMd, weightMd, biasMd, dstMd)
                     : dnnl::inner_product_forward::desc(dnnl::prop_kind::forward_inference, srcMd, weightMd, dstMd);
    return dnnl::inner_product_forward::primitive_desc(desc, attr, plan.engine);
  };
  dnnl::inner_product_forward::primitive_desc pd;
  try {
    pd = describe(plan.desc(input));  // read the producer's layout as it is
  } catch (const dnnl::error&) {
    pd = describe(memory::desc(srcDims, dt, tag::any));
  }
  int src = plan.inLayout(input, pd.src_desc(), name);
  int weights = plan.addConstant(plan.constant(weight.reshape(at::IntArrayRef(weightDims)), weightDims, weightTag, pd.weights_desc()));
  std::vector<std::pair<int, int>> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, output}};
  if (bias) args.push_back({DNNL_ARG_BIAS, vectorConstant(plan, *bias)});
  args.push_back({DNNL_ARG_SCRATCHPAD, kScratchpad});
  defineOutput(plan, output, pd.dst_desc(), post, index, {input, src}, name);
  noteScratchpad(plan, pd);
  plan.addStep(dnnl::inner_product_forward(pd), args, name, pd.impl_info_str());
}

void buildPooling(DnnlPlan& plan, const Napi::Object& node, const std::string& name) {
  int input = plan.inPlanType(idsOf(node, "inputs").at(0), name);
  int output = static_cast<int>(intArg(node.Get("output")));
  auto kind = node.Get("algorithm").As<Napi::String>().Utf8Value();
  algorithm alg = kind == "max"           ? algorithm::pooling_max
                  : kind == "avg_include" ? algorithm::pooling_avg_include_padding
                  : kind == "avg_exclude" ? algorithm::pooling_avg_exclude_padding
                                          : throw std::invalid_argument(name + ": unknown pooling '" + kind + "'");
  auto dilation = dimsOf(node, "dilation");
  for (auto& d : dilation) d -= 1;
  memory::desc dstMd(dimsOf(node, "outputShape"), plan.dtype, tag::any);
  dnnl::pooling_v2_forward::desc desc(dnnl::prop_kind::forward_inference, alg, plan.desc(input), dstMd, dimsOf(node, "stride"),
                                      dimsOf(node, "kernel"), dilation, dimsOf(node, "padding"), dimsOf(node, "paddingRight"));
  dnnl::pooling_v2_forward::primitive_desc pd(desc, attributes(PostOps()), plan.engine);
  plan.descs[output] = pd.dst_desc();
  noteScratchpad(plan, pd);
  plan.addStep(dnnl::pooling_v2_forward(pd), {{DNNL_ARG_SRC, input}, {DNNL_ARG_DST, output}, {DNNL_ARG_SCRATCHPAD, kScratchpad}},
               name, pd.impl_info_str());
}

// The format tag of a 4-D activation's desc, when it is one a plan's activations take (plain,
// channels-last, 8- or 16-channel blocks).
std::optional<tag> formatTagOf(const memory::desc& desc) {
  if (desc.dims().size() != 4) return std::nullopt;
  for (tag format : {tag::abcd, tag::acdb, tag::aBcd8b, tag::aBcd16b}) {
    if (memory::desc(desc.dims(), desc.data_type(), format) == desc) return format;
  }
  return std::nullopt;
}

// A desc of `dims` in the format of `model`, when formatTagOf knows it.
std::optional<memory::desc> inFormatOf(const memory::desc& model, const memory::dims& dims) {
  auto format = formatTagOf(model);
  if (!format || dims.size() != 4) return std::nullopt;
  return memory::desc(dims, model.data_type(), *format);
}

void buildBinary(DnnlPlan& plan, const Napi::Object& node, size_t index, const std::string& name) {
  auto inputs = idsOf(node, "inputs");
  int a = plan.inPlanType(inputs.at(0), name);
  int b = plan.inPlanType(inputs.at(1), name);
  int output = static_cast<int>(intArg(node.Get("output")));
  auto kind = node.Get("algorithm").As<Napi::String>().Utf8Value();
  algorithm alg = kind == "add" ? algorithm::binary_add
                  : kind == "mul" ? algorithm::binary_mul
                                  : throw std::invalid_argument(name + ": unknown binary op '" + kind + "'");
  // Same shapes: the second operand in the first's layout. A broadcast one ([N, C, 1, 1], SE's
  // gate) in the first's format: blocked otherwise (its producer's choice), it leaves oneDNN only
  // its reference kernel, 10 to 100 times slower.
  auto aDims = plan.desc(a).dims(), bDims = plan.desc(b).dims();
  bool isGate = aDims.size() == 4 && bDims == memory::dims{aDims[0], aDims[1], 1, 1};
  if (bDims == aDims) b = plan.inLayout(b, plan.desc(a), name);
  else if (auto like = isGate ? inFormatOf(plan.desc(a), bDims) : std::nullopt) b = plan.inLayout(b, *like, name);
  PostOps post = readPostOps(node);
  auto attr = attributes(post);
  auto describe = [&]() {
    dnnl::binary::desc desc(alg, plan.desc(a), plan.desc(b), plan.desc(a));
    return dnnl::binary::primitive_desc(desc, attr, plan.engine);
  };
  dnnl::binary::primitive_desc pd;
  try {
    pd = describe();
  } catch (const dnnl::error&) {
    b = plan.inLayout(b, plan.plainDesc(plan.desc(b).dims(), plan.dtype), name);
    pd = describe();
  }
  defineOutput(plan, output, pd.dst_desc(), post, index, {a, b}, name);
  noteScratchpad(plan, pd);
  plan.addStep(dnnl::binary(pd), {{DNNL_ARG_SRC_0, a}, {DNNL_ARG_SRC_1, b}, {DNNL_ARG_DST, output}, {DNNL_ARG_SCRATCHPAD, kScratchpad}},
               name, pd.impl_info_str());
}

void buildBatchNorm(DnnlPlan& plan, const Napi::Object& node, const std::string& name) {
  int input = plan.inPlanType(idsOf(node, "inputs").at(0), name);
  int output = static_cast<int>(intArg(node.Get("output")));
  PostOps post = readPostOps(node);
  if (post.count > 0 && !post.onlyRelu) throw std::invalid_argument(name + ": batch normalisation fuses a ReLU only");
  auto flags = dnnl::normalization_flags::use_global_stats | dnnl::normalization_flags::use_scale |
               dnnl::normalization_flags::use_shift;
  if (post.onlyRelu) flags = flags | dnnl::normalization_flags::fuse_norm_relu;
  float eps = static_cast<float>(doubleArg(node.Get("eps")));
  dnnl::batch_normalization_forward::desc desc(dnnl::prop_kind::forward_inference, plan.desc(input), eps, flags);
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  dnnl::batch_normalization_forward::primitive_desc pd(desc, attr, plan.engine);
  plan.descs[output] = pd.dst_desc();
  noteScratchpad(plan, pd);
  plan.addStep(dnnl::batch_normalization_forward(pd),
               {{DNNL_ARG_SRC, input},
                {DNNL_ARG_MEAN, vectorConstant(plan, unwrap(node.Get("mean")))},
                {DNNL_ARG_VARIANCE, vectorConstant(plan, unwrap(node.Get("variance")))},
                {DNNL_ARG_SCALE, vectorConstant(plan, unwrap(node.Get("scale")))},
                {DNNL_ARG_SHIFT, vectorConstant(plan, unwrap(node.Get("shift")))},
                {DNNL_ARG_DST, output},
                {DNNL_ARG_SCRATCHPAD, kScratchpad}},
               name, pd.impl_info_str());
}

void buildEltwise(DnnlPlan& plan, const Napi::Object& node, const std::string& name) {
  int input = plan.inPlanType(idsOf(node, "inputs").at(0), name);
  int output = static_cast<int>(intArg(node.Get("output")));
  auto alg = eltwiseAlgorithm(node.Get("algorithm").As<Napi::String>().Utf8Value());
  dnnl::eltwise_forward::desc desc(dnnl::prop_kind::forward_inference, alg, plan.desc(input),
                                   static_cast<float>(doubleArg(node.Get("alpha"))), static_cast<float>(doubleArg(node.Get("beta"))));
  dnnl::eltwise_forward::primitive_desc pd(desc, attributes(PostOps()), plan.engine);
  plan.descs[output] = pd.dst_desc();
  noteScratchpad(plan, pd);
  plan.addStep(dnnl::eltwise_forward(pd), {{DNNL_ARG_SRC, input}, {DNNL_ARG_DST, output}, {DNNL_ARG_SCRATCHPAD, kScratchpad}}, name,
               pd.impl_info_str());
}

// PReLU with one slope per channel (or one for all): the slopes broadcast as [1, C, 1, 1].
void buildPrelu(DnnlPlan& plan, const Napi::Object& node, const std::string& name) {
  int input = plan.inPlanType(idsOf(node, "inputs").at(0), name);
  int output = static_cast<int>(intArg(node.Get("output")));
  at::Tensor weight = unwrap(node.Get("weight"));
  auto srcDims = plan.desc(input).dims();
  if (srcDims.size() < 2) throw std::invalid_argument(name + ": PReLU needs a [N, C, ...] input");
  memory::dims weightDims(srcDims.size(), 1);
  weightDims[1] = weight.numel() == 1 ? 1 : srcDims[1];
  if (weight.numel() != weightDims[1]) throw std::invalid_argument(name + ": PReLU has " + std::to_string(weight.numel()) +
                                                                   " slopes for " + std::to_string(srcDims[1]) + " channels");
  memory::desc anyWeights(weightDims, plan.dtype, tag::any);
  dnnl::prelu_forward::desc desc(dnnl::prop_kind::forward_inference, plan.desc(input), anyWeights);
  dnnl::prelu_forward::primitive_desc pd(desc, attributes(PostOps()), plan.engine);
  plan.descs[output] = pd.dst_desc();
  noteScratchpad(plan, pd);
  tag dense = weightDims.size() == 4 ? tag::abcd : weightDims.size() == 3 ? tag::abc : tag::ab;
  int weights = plan.addConstant(plan.constant(weight, weightDims, dense, pd.weights_desc()));
  plan.addStep(dnnl::prelu_forward(pd), {{DNNL_ARG_SRC, input}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, output}, {DNNL_ARG_SCRATCHPAD, kScratchpad}},
               name, pd.impl_info_str());
}

void buildConcat(DnnlPlan& plan, const Napi::Object& node, const std::string& name) {
  std::vector<int> inputs;
  for (int id : idsOf(node, "inputs")) inputs.push_back(plan.inPlanType(id, name));
  int output = static_cast<int>(intArg(node.Get("output")));
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  auto describe = [&](const std::vector<memory::desc>& sources) {
    return dnnl::concat::primitive_desc(static_cast<int>(intArg(node.Get("axis"))), sources, plan.engine, attr);
  };
  std::vector<memory::desc> sources;
  for (int id : inputs) sources.push_back(plan.desc(id));
  auto pd = describe(sources);
  // Sources the concatenation cannot copy between (DenseNet's Winograd outputs beside direct
  // ones, a zero fill beside a blocked input, channel blocks a count does not fill) leave
  // oneDNN only its reference kernel. Then every source takes one format: the first source's
  // that is not a constant, else channels-last, else plain, whichever has a kernel.
  bool fourDimensional = true;
  for (const auto& source : sources) fourDimensional = fourDimensional && source.dims().size() == 4;
  if (isReference(pd) && fourDimensional) {
    int model = inputs.front();
    for (int id : inputs) {
      if (plan.constants.count(id)) continue;
      model = id;
      break;
    }
    std::vector<tag> formats;
    if (auto own = formatTagOf(plan.desc(model))) formats.push_back(*own);
    for (tag fallback : {tag::acdb, tag::abcd})
      if (formats.empty() || formats.front() != fallback) formats.push_back(fallback);
    for (tag format : formats) {
      std::vector<memory::desc> uniform;
      for (int id : inputs) uniform.push_back(memory::desc(plan.desc(id).dims(), plan.dtype, format));
      auto candidate = describe(uniform);
      if (isReference(candidate)) continue;
      for (size_t i = 0; i < inputs.size(); i++) inputs[i] = plan.inLayout(inputs[i], uniform[i], name);
      pd = candidate;
      break;
    }
  }
  plan.descs[output] = pd.dst_desc();
  noteScratchpad(plan, pd);
  std::vector<std::pair<int, int>> args{{DNNL_ARG_DST, output}, {DNNL_ARG_SCRATCHPAD, kScratchpad}};
  for (size_t i = 0; i < inputs.size(); i++) args.push_back({DNNL_ARG_MULTIPLE_SRC + static_cast<int>(i), inputs[i]});
  plan.addStep(dnnl::concat(pd), args, name, pd.impl_info_str());
}

void buildZeros(DnnlPlan& plan, const Napi::Object& node) {
  int output = static_cast<int>(intArg(node.Get("output")));
  auto desc = plan.plainDesc(dimsOf(node, "outputShape"), plan.dtype);
  at::Tensor storage = at::zeros({static_cast<int64_t>(desc.get_size())}, at::kByte);
  plan.constantStorage.push_back(storage);
  plan.constants[output] = dnnl::memory(desc, plan.engine, storage.data_ptr());
  plan.descs[output] = desc;
}

}  // namespace

void buildDnnlNode(DnnlPlan& plan, const Napi::Object& node, size_t index) {
  auto kind = node.Get("kind").As<Napi::String>().Utf8Value();
  auto name = node.Get("name").As<Napi::String>().Utf8Value();
  try {
    if (kind == "conv") buildConvolution(plan, node, index, name);
    else if (kind == "linear") buildInnerProduct(plan, node, index, name);
    else if (kind == "pool") buildPooling(plan, node, name);
    else if (kind == "binary") buildBinary(plan, node, index, name);
    else if (kind == "batchnorm") buildBatchNorm(plan, node, name);
    else if (kind == "eltwise") buildEltwise(plan, node, name);
    else if (kind == "prelu") buildPrelu(plan, node, name);
    else if (kind == "concat") buildConcat(plan, node, name);
    else if (kind == "zeros") buildZeros(plan, node);
    else throw std::invalid_argument("unknown node kind '" + kind + "'");
  } catch (const dnnl::error& error) {
    throw std::runtime_error("dnnl plan: " + kind + " '" + name + "': oneDNN: " + error.what());
  }
}

}  // namespace resnets
