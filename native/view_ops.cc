// Shape and indexing ops: views, joins, splits, gathers.
#include "common.h"

namespace resnets {

void registerViewOps(Napi::Env env, Exports exports) {
  RN_FN(exports, env, "reshape", RN_WRAP(at::reshape(RN_T(0), intList(info[1]))););
  RN_FN(exports, env, "view", RN_WRAP(RN_T(0).view(intList(info[1]))););
  RN_FN(exports, env, "permute", RN_WRAP(RN_T(0).permute(intList(info[1]))););
  RN_FN(exports, env, "transpose", RN_WRAP(at::transpose(RN_T(0), intArg(info[1]), intArg(info[2]))););
  RN_FN(exports, env, "flatten", RN_WRAP(at::flatten(RN_T(0), intArg(info[1]), intArg(info[2]))););
  RN_FN(exports, env, "squeeze", {
    if (info[1].IsUndefined() || info[1].IsNull()) RN_WRAP(at::squeeze(RN_T(0)));
    RN_WRAP(at::squeeze(RN_T(0), intArg(info[1])));
  });
  RN_FN(exports, env, "unsqueeze", RN_WRAP(at::unsqueeze(RN_T(0), intArg(info[1]))););
  RN_FN(exports, env, "narrow", RN_WRAP(at::narrow(RN_T(0), intArg(info[1]), intArg(info[2]), intArg(info[3]))););
  RN_FN(exports, env, "slice", {
    // (t, dim, start, end, step)
    RN_WRAP(at::slice(RN_T(0), intArg(info[1]), intArg(info[2]), intArg(info[3]), intArg(info[4])));
  });
  RN_FN(exports, env, "select", RN_WRAP(at::select(RN_T(0), intArg(info[1]), intArg(info[2]))););
  RN_FN(exports, env, "indexSelect", RN_WRAP(at::index_select(RN_T(0), intArg(info[1]), RN_T(2))););
  RN_FN(exports, env, "gather", RN_WRAP(at::gather(RN_T(0), intArg(info[1]), RN_T(2))););
  RN_FN(exports, env, "scatter", RN_WRAP(at::scatter(RN_T(0), intArg(info[1]), RN_T(2), RN_T(3))););
  RN_FN(exports, env, "maskedSelect", RN_WRAP(at::masked_select(RN_T(0), RN_T(1))););
  RN_FN(exports, env, "expand", RN_WRAP(RN_T(0).expand(intList(info[1]))););
  RN_FN(exports, env, "repeat", RN_WRAP(RN_T(0).repeat(intList(info[1]))););
  RN_FN(exports, env, "flip", RN_WRAP(at::flip(RN_T(0), intList(info[1]))););
  RN_FN(exports, env, "cat", RN_WRAP(at::cat(tensorList(info[0]), intArg(info[1]))););
  RN_FN(exports, env, "stack", RN_WRAP(at::stack(tensorList(info[0]), intArg(info[1]))););
  RN_FN(exports, env, "split", {
    // (t, sizeOrSizes, dim)
    if (info[1].IsArray()) return wrapList(info.Env(), at::split_with_sizes(RN_T(0), intList(info[1]), intArg(info[2])));
    return wrapList(info.Env(), at::split(RN_T(0), intArg(info[1]), intArg(info[2])));
  });
  RN_FN(exports, env, "chunk", return wrapList(info.Env(), at::chunk(RN_T(0), intArg(info[1]), intArg(info[2]))););
  RN_FN(exports, env, "asStrided", {
    // (t, shape, strides, storageOffset)
    RN_WRAP(at::as_strided(RN_T(0), intList(info[1]), intList(info[2]), intArg(info[3])));
  });
  RN_FN(exports, env, "oneHot", RN_WRAP(at::one_hot(RN_T(0), intArg(info[1]))););
}

}  // namespace resnets
