// Creation, conversion, elementwise arithmetic, reductions and matmul.
#include "common.h"

#include <cstring>

namespace resnets {

namespace {

// A binary op whose right-hand side may be a tensor or a JS number.
template <typename TensorFn, typename ScalarFn>
Napi::Value binary(const Napi::CallbackInfo& info, TensorFn withTensor, ScalarFn withScalar) {
  at::Tensor& a = unwrap(info[0]);
  if (isTensorArg(info[1])) return wrap(info.Env(), withTensor(a, unwrap(info[1])));
  return wrap(info.Env(), withScalar(a, scalar(info[1])));
}

// In-place variant: returns nothing, the JS side keeps its own handle.
template <typename TensorFn, typename ScalarFn>
Napi::Value binaryInPlace(const Napi::CallbackInfo& info, TensorFn withTensor, ScalarFn withScalar) {
  at::Tensor& a = unwrap(info[0]);
  if (isTensorArg(info[1])) {
    withTensor(a, unwrap(info[1]));
  } else {
    withScalar(a, scalar(info[1]));
  }
  return info.Env().Undefined();
}

Napi::Value shapeOf(Napi::Env env, const at::Tensor& t) {
  auto sizes = t.sizes();
  auto array = Napi::Array::New(env, sizes.size());
  for (size_t i = 0; i < sizes.size(); i++) array.Set(static_cast<uint32_t>(i), Napi::Number::New(env, sizes[i]));
  return array;
}

// NaN and infinities have every exponent bit set. A plain loop over the bits allocates
// nothing, where isfinite().sum() builds a bool tensor and reduces it; the fixed-length
// inner loop is what GCC's -O2 vectorises.
int64_t countNonFiniteFloats(const float* data, int64_t count) {
  constexpr int64_t kBlock = 64;
  auto nonFinite = [](float value) {
    uint32_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    return static_cast<int32_t>((bits & 0x7f800000u) == 0x7f800000u);
  };
  int64_t total = 0, i = 0;
  for (; i + kBlock <= count; i += kBlock) {
    int32_t block = 0;
    for (int64_t j = 0; j < kBlock; j++) block += nonFinite(data[i + j]);
    total += block;
  }
  for (; i < count; i++) total += nonFinite(data[i]);
  return total;
}

c10::optional<int64_t> optionalDim(const Napi::Value& value) {
  if (value.IsUndefined() || value.IsNull()) return c10::nullopt;
  return intArg(value);
}

}  // namespace

void registerTensorOps(Napi::Env env, Exports exports) {
  // ---- creation ----
  RN_FN(exports, env, "fromBuffer", {
    // (typedArray|Buffer, dtypeCode, shape, device?) -> copy of the bytes
    auto view = info[0].As<Napi::TypedArray>();
    auto type = scalarType(info[1]);
    auto shape = intList(info[2]);
    auto* data = static_cast<uint8_t*>(view.ArrayBuffer().Data()) + view.ByteOffset();
    int64_t numel = 1;
    for (auto s : shape) numel *= s;
    int64_t expected = numel * static_cast<int64_t>(c10::elementSize(type));
    if (expected != static_cast<int64_t>(view.ByteLength())) {
      throw std::invalid_argument("buffer has " + std::to_string(view.ByteLength()) + " bytes but shape and dtype need " +
                                  std::to_string(expected));
    }
    at::Tensor t = at::empty(shape, at::TensorOptions().dtype(type));
    if (expected > 0) std::memcpy(t.data_ptr(), data, expected);
    if (!info[3].IsUndefined() && !info[3].IsNull()) t = t.to(deviceArg(info[3]));
    RN_WRAP(t);
  });
  RN_FN(exports, env, "zeros", RN_WRAP(at::zeros(intList(info[0]), tensorOptions(info[1], info[2]))););
  RN_FN(exports, env, "ones", RN_WRAP(at::ones(intList(info[0]), tensorOptions(info[1], info[2]))););
  RN_FN(exports, env, "empty", RN_WRAP(at::empty(intList(info[0]), tensorOptions(info[1], info[2]))););
  RN_FN(exports, env, "full", RN_WRAP(at::full(intList(info[0]), scalar(info[1]), tensorOptions(info[2], info[3]))););
  RN_FN(exports, env, "randn", RN_WRAP(at::randn(intList(info[0]), tensorOptions(info[1], info[2]))););
  RN_FN(exports, env, "rand", RN_WRAP(at::rand(intList(info[0]), tensorOptions(info[1], info[2]))););
  RN_FN(exports, env, "randint", RN_WRAP(at::randint(intArg(info[0]), intArg(info[1]), intList(info[2]),
                                                     tensorOptions(info[3], info[4]))););
  RN_FN(exports, env, "randperm", RN_WRAP(at::randperm(intArg(info[0]), at::TensorOptions().dtype(at::kLong))););
  RN_FN(exports, env, "arange", RN_WRAP(at::arange(scalar(info[0]), scalar(info[1]), scalar(info[2]),
                                                   tensorOptions(info[3], info[4]))););
  RN_FN(exports, env, "linspace", RN_WRAP(at::linspace(scalar(info[0]), scalar(info[1]), intArg(info[2]),
                                                       tensorOptions(info[3], info[4]))););
  RN_FN(exports, env, "eye", RN_WRAP(at::eye(intArg(info[0]), tensorOptions(info[1], info[2]))););

  // ---- inspection and conversion ----
  RN_FN(exports, env, "dispose", disposeHandle(info.Env(), info[0]); return info.Env().Undefined(););
  RN_FN(exports, env, "isLive", return Napi::Boolean::New(info.Env(), isLiveHandle(info[0])););
  RN_FN(exports, env, "shape", return shapeOf(info.Env(), RN_T(0)););
  RN_FN(exports, env, "strides", {
    auto strides = RN_T(0).strides();
    auto array = Napi::Array::New(info.Env(), strides.size());
    for (size_t i = 0; i < strides.size(); i++) array.Set(static_cast<uint32_t>(i), Napi::Number::New(info.Env(), strides[i]));
    return array;
  });
  RN_FN(exports, env, "dtype", return Napi::Number::New(info.Env(), static_cast<int>(RN_T(0).scalar_type())););
  RN_FN(exports, env, "device", return Napi::String::New(info.Env(), RN_T(0).device().str()););
  RN_FN(exports, env, "numel", return Napi::Number::New(info.Env(), static_cast<double>(RN_T(0).numel())););
  RN_FN(exports, env, "isContiguous", {
    auto format = boolArg(info[1]) ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
    return Napi::Boolean::New(info.Env(), RN_T(0).is_contiguous(format));
  });
  RN_FN(exports, env, "toBuffer", {
    // Copies the values, in logical C order, into a fresh ArrayBuffer. It is made through
    // JavaScript's ArrayBuffer constructor, which throws a RangeError when V8 cannot
    // allocate it, where napi_create_arraybuffer would end the process.
    at::Tensor t = RN_T(0).detach().to(at::kCPU).contiguous();
    size_t bytes = t.numel() * t.element_size();
    Napi::ArrayBuffer buffer;
    try {
      auto constructor = info.Env().Global().Get("ArrayBuffer").As<Napi::Function>();
      buffer = constructor.New({Napi::Number::New(info.Env(), static_cast<double>(bytes))}).As<Napi::ArrayBuffer>();
    } catch (const Napi::Error& error) {
      throw Napi::Error::New(info.Env(), "cannot allocate " + std::to_string(bytes) + " bytes to copy a tensor of " +
                                             std::to_string(t.numel()) + " elements out of libtorch (" + error.Message() + ")");
    }
    if (bytes > 0) std::memcpy(buffer.Data(), t.data_ptr(), bytes);
    return buffer;
  });
  RN_FN(exports, env, "countNonFinite", {
    // (t) -> how many elements are NaN or infinite (a plain loop for dense float32 on the CPU)
    at::Tensor& t = RN_T(0);
    // Any dense layout (channels-last too) holds its elements in one span from data_ptr; their order does not matter here.
    if (t.scalar_type() == at::kFloat && t.device().is_cpu() && t.layout() == at::kStrided && t.is_non_overlapping_and_dense()) {
      return Napi::Number::New(info.Env(), static_cast<double>(countNonFiniteFloats(t.data_ptr<float>(), t.numel())));
    }
    at::Tensor dense = t.is_mkldnn() ? t.to_dense() : t;
    return Napi::Number::New(info.Env(), static_cast<double>(dense.numel() - at::isfinite(dense).sum().item<int64_t>()));
  });
  RN_FN(exports, env, "item", {
    at::Tensor& t = RN_T(0);
    if (t.numel() != 1) throw std::invalid_argument("item() needs a tensor with one element, got " + std::to_string(t.numel()));
    return Napi::Number::New(info.Env(), t.item<double>());
  });
  RN_FN(exports, env, "to", {
    // (t, dtype?, device?, copy)
    at::Tensor& t = RN_T(0);
    at::TensorOptions options = t.options();
    if (!info[1].IsUndefined() && !info[1].IsNull()) options = options.dtype(scalarType(info[1]));
    if (!info[2].IsUndefined() && !info[2].IsNull()) options = options.device(deviceArg(info[2]));
    RN_WRAP(t.to(options, false, boolArg(info[3])));
  });
  RN_FN(exports, env, "clone", RN_WRAP(RN_T(0).clone()););
  RN_FN(exports, env, "contiguous", {
    auto format = boolArg(info[1]) ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
    RN_WRAP(RN_T(0).contiguous(format));
  });
  // oneDNN's opaque blocked layout, for inference: convolutions, pooling, ReLU, add and
  // linear layers run on it without reordering activations between layers.
  RN_FN(exports, env, "toMkldnn", RN_WRAP(RN_T(0).to_mkldnn()););
  RN_FN(exports, env, "toDense", RN_WRAP(RN_T(0).to_dense()););
  RN_FN(exports, env, "isMkldnn", return Napi::Boolean::New(info.Env(), RN_T(0).is_mkldnn()););

  // ---- elementwise ----
  RN_FN(exports, env, "add", {
    at::Tensor& a = RN_T(0);
    at::Scalar alpha = info[2].IsUndefined() ? at::Scalar(1) : scalar(info[2]);
    if (isTensorArg(info[1])) RN_WRAP(at::add(a, RN_T(1), alpha));
    RN_WRAP(at::add(a, scalar(info[1]), alpha));
  });
  RN_FN(exports, env, "sub", {
    at::Tensor& a = RN_T(0);
    at::Scalar alpha = info[2].IsUndefined() ? at::Scalar(1) : scalar(info[2]);
    if (isTensorArg(info[1])) RN_WRAP(at::sub(a, RN_T(1), alpha));
    RN_WRAP(at::sub(a, scalar(info[1]), alpha));
  });
  RN_FN(exports, env, "rsub", RN_WRAP(at::rsub(RN_T(0), scalar(info[1]))););
  RN_FN(exports, env, "mul", return binary(info, [](auto& a, auto& b) { return at::mul(a, b); },
                                           [](auto& a, auto b) { return at::mul(a, b); }););
  RN_FN(exports, env, "div", return binary(info, [](auto& a, auto& b) { return at::div(a, b); },
                                           [](auto& a, auto b) { return at::div(a, b); }););
  RN_FN(exports, env, "pow", return binary(info, [](auto& a, auto& b) { return at::pow(a, b); },
                                           [](auto& a, auto b) { return at::pow(a, b); }););
  RN_FN(exports, env, "remainder", return binary(info, [](auto& a, auto& b) { return at::remainder(a, b); },
                                                 [](auto& a, auto b) { return at::remainder(a, b); }););
  RN_FN(exports, env, "maximum", RN_WRAP(at::maximum(RN_T(0), RN_T(1))););
  RN_FN(exports, env, "minimum", RN_WRAP(at::minimum(RN_T(0), RN_T(1))););
  RN_FN(exports, env, "eq", return binary(info, [](auto& a, auto& b) { return at::eq(a, b); },
                                          [](auto& a, auto b) { return at::eq(a, b); }););
  RN_FN(exports, env, "ne", return binary(info, [](auto& a, auto& b) { return at::ne(a, b); },
                                          [](auto& a, auto b) { return at::ne(a, b); }););
  RN_FN(exports, env, "lt", return binary(info, [](auto& a, auto& b) { return at::lt(a, b); },
                                          [](auto& a, auto b) { return at::lt(a, b); }););
  RN_FN(exports, env, "le", return binary(info, [](auto& a, auto& b) { return at::le(a, b); },
                                          [](auto& a, auto b) { return at::le(a, b); }););
  RN_FN(exports, env, "gt", return binary(info, [](auto& a, auto& b) { return at::gt(a, b); },
                                          [](auto& a, auto b) { return at::gt(a, b); }););
  RN_FN(exports, env, "ge", return binary(info, [](auto& a, auto& b) { return at::ge(a, b); },
                                          [](auto& a, auto b) { return at::ge(a, b); }););
  RN_FN(exports, env, "logicalAnd", RN_WRAP(at::logical_and(RN_T(0), RN_T(1))););
  RN_FN(exports, env, "logicalOr", RN_WRAP(at::logical_or(RN_T(0), RN_T(1))););
  RN_FN(exports, env, "logicalNot", RN_WRAP(at::logical_not(RN_T(0))););
  RN_FN(exports, env, "where", RN_WRAP(at::where(RN_T(0), RN_T(1), RN_T(2))););
  RN_FN(exports, env, "maskedFill", RN_WRAP(at::masked_fill(RN_T(0), RN_T(1), scalar(info[2]))););
  RN_FN(exports, env, "clamp", {
    c10::optional<at::Scalar> lo, hi;
    if (info[1].IsNumber()) lo = scalar(info[1]);
    if (info[2].IsNumber()) hi = scalar(info[2]);
    RN_WRAP(at::clamp(RN_T(0), lo, hi));
  });

#define RN_UNARY(jsName, fn) RN_FN(exports, env, jsName, RN_WRAP(at::fn(RN_T(0)));)
  RN_UNARY("neg", neg);
  RN_UNARY("abs", abs);
  RN_UNARY("exp", exp);
  RN_UNARY("log", log);
  RN_UNARY("sqrt", sqrt);
  RN_UNARY("rsqrt", rsqrt);
  RN_UNARY("square", square);
  RN_UNARY("reciprocal", reciprocal);
  RN_UNARY("sign", sign);
  RN_UNARY("floor", floor);
  RN_UNARY("ceil", ceil);
  RN_UNARY("round", round);
  RN_UNARY("tanh", tanh);
  RN_UNARY("sin", sin);
  RN_UNARY("cos", cos);
  RN_UNARY("acos", acos);
  RN_UNARY("isnan", isnan);
  RN_UNARY("isfinite", isfinite);
#undef RN_UNARY

  // ---- in place (optimisers, initialisers) ----
  RN_FN(exports, env, "add_", {
    at::Tensor& a = RN_T(0);
    at::Scalar alpha = info[2].IsUndefined() ? at::Scalar(1) : scalar(info[2]);
    if (isTensorArg(info[1])) a.add_(RN_T(1), alpha); else a.add_(scalar(info[1]), alpha);
    return info.Env().Undefined();
  });
  RN_FN(exports, env, "sub_", {
    at::Tensor& a = RN_T(0);
    at::Scalar alpha = info[2].IsUndefined() ? at::Scalar(1) : scalar(info[2]);
    if (isTensorArg(info[1])) a.sub_(RN_T(1), alpha); else a.sub_(scalar(info[1]), alpha);
    return info.Env().Undefined();
  });
  RN_FN(exports, env, "mul_", return binaryInPlace(info, [](auto& a, auto& b) { a.mul_(b); }, [](auto& a, auto b) { a.mul_(b); }););
  RN_FN(exports, env, "div_", return binaryInPlace(info, [](auto& a, auto& b) { a.div_(b); }, [](auto& a, auto b) { a.div_(b); }););
  RN_FN(exports, env, "copy_", RN_T(0).copy_(RN_T(1)); return info.Env().Undefined(););
  RN_FN(exports, env, "zero_", RN_T(0).zero_(); return info.Env().Undefined(););
  RN_FN(exports, env, "fill_", RN_T(0).fill_(scalar(info[1])); return info.Env().Undefined(););
  RN_FN(exports, env, "clamp_", {
    c10::optional<at::Scalar> lo, hi;
    if (info[1].IsNumber()) lo = scalar(info[1]);
    if (info[2].IsNumber()) hi = scalar(info[2]);
    RN_T(0).clamp_(lo, hi);
    return info.Env().Undefined();
  });
  RN_FN(exports, env, "addcmul_", RN_T(0).addcmul_(RN_T(1), RN_T(2), scalar(info[3])); return info.Env().Undefined(););
  RN_FN(exports, env, "addcdiv_", RN_T(0).addcdiv_(RN_T(1), RN_T(2), scalar(info[3])); return info.Env().Undefined(););
  RN_FN(exports, env, "lerp_", RN_T(0).lerp_(RN_T(1), scalar(info[2])); return info.Env().Undefined(););
  RN_FN(exports, env, "sqrt_", RN_T(0).sqrt_(); return info.Env().Undefined(););
  RN_FN(exports, env, "uniform_", RN_T(0).uniform_(doubleArg(info[1]), doubleArg(info[2])); return info.Env().Undefined(););
  RN_FN(exports, env, "normal_", RN_T(0).normal_(doubleArg(info[1]), doubleArg(info[2])); return info.Env().Undefined(););
  RN_FN(exports, env, "bernoulli", RN_WRAP(at::bernoulli(RN_T(0), doubleArg(info[1]))););

  // ---- reductions ----
  RN_FN(exports, env, "sum", {
    // (t, dims|undefined, keepdim, dtype?)
    at::Tensor& t = RN_T(0);
    c10::optional<at::ScalarType> dtype;
    if (!info[3].IsUndefined() && !info[3].IsNull()) dtype = scalarType(info[3]);
    if (info[1].IsUndefined() || info[1].IsNull()) RN_WRAP(at::sum(t, dtype));
    RN_WRAP(at::sum(t, intList(info[1]), boolArg(info[2]), dtype));
  });
  RN_FN(exports, env, "mean", {
    at::Tensor& t = RN_T(0);
    if (info[1].IsUndefined() || info[1].IsNull()) RN_WRAP(at::mean(t));
    RN_WRAP(at::mean(t, intList(info[1]), boolArg(info[2])));
  });
  RN_FN(exports, env, "var", {
    // (t, dims|undefined, correction, keepdim)
    at::Tensor& t = RN_T(0);
    c10::optional<at::IntArrayRef> dims;
    std::vector<int64_t> dimList;
    if (!info[1].IsUndefined() && !info[1].IsNull()) { dimList = intList(info[1]); dims = dimList; }
    RN_WRAP(at::var(t, dims, c10::optional<int64_t>(intArg(info[2])), boolArg(info[3])));
  });
  RN_FN(exports, env, "norm", {
    at::Tensor& t = RN_T(0);
    if (info[2].IsUndefined() || info[2].IsNull()) RN_WRAP(at::norm(t, scalar(info[1])));
    RN_WRAP(at::norm(t, scalar(info[1]), intList(info[2]), boolArg(info[3])));
  });
  RN_FN(exports, env, "maxAll", RN_WRAP(at::max(RN_T(0))););
  RN_FN(exports, env, "minAll", RN_WRAP(at::min(RN_T(0))););
  RN_FN(exports, env, "maxDim", {
    auto result = at::max(RN_T(0), intArg(info[1]), boolArg(info[2]));
    return wrapList(info.Env(), {std::get<0>(result), std::get<1>(result)});
  });
  RN_FN(exports, env, "minDim", {
    auto result = at::min(RN_T(0), intArg(info[1]), boolArg(info[2]));
    return wrapList(info.Env(), {std::get<0>(result), std::get<1>(result)});
  });
  RN_FN(exports, env, "argmax", RN_WRAP(at::argmax(RN_T(0), optionalDim(info[1]), boolArg(info[2]))););
  RN_FN(exports, env, "argmin", RN_WRAP(at::argmin(RN_T(0), optionalDim(info[1]), boolArg(info[2]))););
  RN_FN(exports, env, "topk", {
    // (t, k, dim, largest, sorted)
    auto result = at::topk(RN_T(0), intArg(info[1]), intArg(info[2]), boolArg(info[3]), boolArg(info[4]));
    return wrapList(info.Env(), {std::get<0>(result), std::get<1>(result)});
  });
  RN_FN(exports, env, "sort", {
    auto result = at::sort(RN_T(0), intArg(info[1]), boolArg(info[2]));
    return wrapList(info.Env(), {std::get<0>(result), std::get<1>(result)});
  });
  RN_FN(exports, env, "all", RN_WRAP(at::all(RN_T(0))););
  RN_FN(exports, env, "any", RN_WRAP(at::any(RN_T(0))););
  RN_FN(exports, env, "logsumexp", RN_WRAP(at::logsumexp(RN_T(0), intList(info[1]), boolArg(info[2]))););
  RN_FN(exports, env, "cumsum", RN_WRAP(at::cumsum(RN_T(0), intArg(info[1]))););
  RN_FN(exports, env, "allclose", return Napi::Boolean::New(info.Env(), at::allclose(RN_T(0), RN_T(1), doubleArg(info[2]), doubleArg(info[3]))););

  // ---- linear algebra ----
  RN_FN(exports, env, "matmul", RN_WRAP(at::matmul(RN_T(0), RN_T(1))););
  RN_FN(exports, env, "mm", RN_WRAP(at::mm(RN_T(0), RN_T(1))););
  RN_FN(exports, env, "bmm", RN_WRAP(at::bmm(RN_T(0), RN_T(1))););
  RN_FN(exports, env, "outer", RN_WRAP(at::outer(RN_T(0), RN_T(1))););
}

}  // namespace resnets
