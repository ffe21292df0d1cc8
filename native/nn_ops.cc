// Neural-network functions: convolution, normalisation, pooling, activations, losses.
#include "common.h"

namespace resnets {

namespace {

at::Tensor tensorOrUndefined(const Napi::Value& value) {
  auto t = optionalTensor(value);
  return t ? *t : at::Tensor();
}

}  // namespace

void registerNnOps(Napi::Env env, Exports exports) {
  RN_FN(exports, env, "conv2d", {
    // (input, weight, bias?, stride[2], padding[2], dilation[2], groups)
    RN_WRAP(at::conv2d(RN_T(0), RN_T(1), tensorOrUndefined(info[2]), intList(info[3]), intList(info[4]),
                       intList(info[5]), intArg(info[6])));
  });
  RN_FN(exports, env, "mkldnnReorderConv2dWeight", {
    // (weight, padding[2], stride[2], dilation[2], groups): the weight pre-packed once in
    // oneDNN's layout, instead of reordered on every call.
    RN_WRAP(at::mkldnn_reorder_conv2d_weight(RN_T(0).to_mkldnn(), intList(info[1]), intList(info[2]), intList(info[3]),
                                             intArg(info[4])));
  });
  RN_FN(exports, env, "batchNorm", {
    // (input, weight?, bias?, runningMean?, runningVar?, training, momentum, eps)
    const at::Tensor& input = RN_T(0);
    bool training = boolArg(info[5]);
    // As torch.nn.functional.batch_norm: one value per channel has no batch variance.
    int64_t perChannel = input.dim() >= 2 ? input.size(0) : 0;
    for (int64_t d = 2; d < input.dim(); d++) perChannel *= input.size(d);
    if (training && perChannel == 1) {
      throw std::invalid_argument("batchNorm: expected more than 1 value per channel when training, got input size " +
                                  c10::str(input.sizes()));
    }
    RN_WRAP(at::batch_norm(RN_T(0), tensorOrUndefined(info[1]), tensorOrUndefined(info[2]), tensorOrUndefined(info[3]),
                           tensorOrUndefined(info[4]), boolArg(info[5]), doubleArg(info[6]), doubleArg(info[7]),
                           at::globalContext().userEnabledCuDNN()));
  });
  RN_FN(exports, env, "linear", RN_WRAP(at::linear(RN_T(0), RN_T(1), tensorOrUndefined(info[2]))););
  RN_FN(exports, env, "relu", RN_WRAP(at::relu(RN_T(0))););
  RN_FN(exports, env, "relu_", RN_T(0).relu_(); return info.Env().Undefined(););
  RN_FN(exports, env, "prelu", RN_WRAP(at::prelu(RN_T(0), RN_T(1))););
  RN_FN(exports, env, "leakyRelu", RN_WRAP(at::leaky_relu(RN_T(0), scalar(info[1]))););
  RN_FN(exports, env, "sigmoid", RN_WRAP(at::sigmoid(RN_T(0))););
  RN_FN(exports, env, "hardtanh", RN_WRAP(at::hardtanh(RN_T(0), scalar(info[1]), scalar(info[2]))););
  RN_FN(exports, env, "gelu", RN_WRAP(at::gelu(RN_T(0))););
  RN_FN(exports, env, "silu", RN_WRAP(at::silu(RN_T(0))););
  RN_FN(exports, env, "softmax", RN_WRAP(at::softmax(RN_T(0), intArg(info[1]))););
  RN_FN(exports, env, "logSoftmax", RN_WRAP(at::log_softmax(RN_T(0), intArg(info[1]))););
  RN_FN(exports, env, "maxPool2d", {
    // (input, kernel[2], stride[2], padding[2], dilation[2], ceilMode)
    RN_WRAP(at::max_pool2d(RN_T(0), intList(info[1]), intList(info[2]), intList(info[3]), intList(info[4]),
                           boolArg(info[5])));
  });
  RN_FN(exports, env, "avgPool2d", {
    // (input, kernel[2], stride[2], padding[2], ceilMode, countIncludePad)
    RN_WRAP(at::avg_pool2d(RN_T(0), intList(info[1]), intList(info[2]), intList(info[3]), boolArg(info[4]),
                           boolArg(info[5])));
  });
  RN_FN(exports, env, "adaptiveAvgPool2d", RN_WRAP(at::adaptive_avg_pool2d(RN_T(0), intList(info[1]))););
  RN_FN(exports, env, "adaptiveMaxPool2d", RN_WRAP(std::get<0>(at::adaptive_max_pool2d(RN_T(0), intList(info[1])))););
  RN_FN(exports, env, "dropout", RN_WRAP(at::dropout(RN_T(0), doubleArg(info[1]), boolArg(info[2]))););
  RN_FN(exports, env, "crossEntropy", {
    // (logits, target, weight?, reduction 0 none|1 mean|2 sum, ignoreIndex, labelSmoothing)
    RN_WRAP(at::cross_entropy_loss(RN_T(0), RN_T(1), optionalTensor(info[2]), intArg(info[3]), intArg(info[4]),
                                   doubleArg(info[5])));
  });
  RN_FN(exports, env, "nllLoss", {
    RN_WRAP(at::nll_loss(RN_T(0), RN_T(1), optionalTensor(info[2]), intArg(info[3]), intArg(info[4])));
  });
  RN_FN(exports, env, "mseLoss", RN_WRAP(at::mse_loss(RN_T(0), RN_T(1), intArg(info[2]))););
  RN_FN(exports, env, "pad", {
    // (input, pads, mode 'constant'|'reflect'|'replicate'|'circular', value)
    auto mode = info[2].As<Napi::String>().Utf8Value();
    auto pads = intList(info[1]);
    if (mode == "constant") RN_WRAP(at::constant_pad_nd(RN_T(0), pads, scalar(info[3])));
    if (mode == "reflect") RN_WRAP(at::reflection_pad2d(RN_T(0), pads));
    if (mode == "replicate") RN_WRAP(at::replication_pad2d(RN_T(0), pads));
    if (mode == "circular") RN_WRAP(at::_pad_circular(RN_T(0), pads));
    throw std::invalid_argument("unknown pad mode '" + mode + "'");
  });
  RN_FN(exports, env, "interpolateBilinear", {
    // (input, size[2], alignCorners, antialias)
    if (boolArg(info[3])) RN_WRAP(at::_upsample_bilinear2d_aa(RN_T(0), intList(info[1]), boolArg(info[2])));
    RN_WRAP(at::upsample_bilinear2d(RN_T(0), intList(info[1]), boolArg(info[2])));
  });
  RN_FN(exports, env, "cosineSimilarity", RN_WRAP(at::cosine_similarity(RN_T(0), RN_T(1), intArg(info[2]), doubleArg(info[3]))););
  RN_FN(exports, env, "normalize", {
    // L2-normalise along dim, as torch.nn.functional.normalize
    at::Tensor& t = RN_T(0);
    auto norm = at::norm(t, 2, {intArg(info[1])}, true).clamp_min(doubleArg(info[2]));
    RN_WRAP(t / norm);
  });
}

}  // namespace resnets
