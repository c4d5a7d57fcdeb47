// This thread's spare RkBuffers (dynamic_rk.hpp).
#include "dynamic_rk.hpp"

#include <algorithm>
#include <vector>

namespace odeflow::detail {
namespace {

// Enough for a forward solve, the adjoint's backward solve and a solve
// nested in a right-hand side; beyond, the oldest spare is freed.
constexpr std::size_t kMaxSpare = 4;

template <Scalar S>
std::vector<std::unique_ptr<RkBuffers<S>>>& spares() {
  // Reserved: handing buffers back (a destructor) must not allocate.
  thread_local std::vector<std::unique_ptr<RkBuffers<S>>> spare = [] {
    std::vector<std::unique_ptr<RkBuffers<S>>> v;
    v.reserve(kMaxSpare);
    return v;
  }();
  return spare;
}

}  // namespace

template <Scalar S>
RkBuffersLease<S>::RkBuffersLease(Eigen::Index size) {
  auto& spare = spares<S>();
  // The newest spare of this size; else a new one while there is room
  // for it among the spares (alternating shapes, such as a forward solve
  // and its adjoint, each keep theirs), else the oldest, resized.
  auto it = std::find_if(spare.rbegin(), spare.rend(), [size](const auto& b) { return b->y.size() == size; });
  if (it == spare.rend() && spare.size() < kMaxSpare) {
    buffers_ = std::make_unique<RkBuffers<S>>();
    return;
  }
  const auto at = it == spare.rend() ? spare.begin() : std::prev(it.base());
  buffers_ = std::move(*at);
  spare.erase(at);
}

template <Scalar S>
RkBuffersLease<S>::~RkBuffersLease() {
  auto& spare = spares<S>();
  if (spare.size() == kMaxSpare) spare.erase(spare.begin());
  spare.push_back(std::move(buffers_));
}

template class RkBuffersLease<float>;
template class RkBuffersLease<double>;

}  // namespace odeflow::detail
