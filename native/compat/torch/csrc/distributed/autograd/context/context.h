// Debian's libtorch-dev 1.13 ships c10d's reducer.hpp, which includes this header, but
// not the distributed-autograd (RPC) headers it belongs to. reducer.hpp needs only two
// names from it: the gradient callback type (checked by a static_assert) and the
// context pointer type of a member. A shared_ptr has one size whatever it points at, so
// these declarations give the Reducer the layout libtorch_cpu.so was built with; the RPC
// context itself is never used here (it stays null without torch.distributed.rpc).
// Only the Debian build puts this folder on the include path (binding.gyp): a full
// libtorch distribution has the real header.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>

namespace torch {
namespace distributed {
namespace autograd {

class DistAutogradContext {
 public:
  using GradCallback = std::function<bool(at::Tensor&)>;
};

using ContextPtr = std::shared_ptr<DistAutogradContext>;

}  // namespace autograd
}  // namespace distributed
}  // namespace torch
