#include <odeflow/ad/arena.hpp>

#include <new>

namespace odeflow::ad {

Arena::Arena(std::size_t block_bytes) : block_bytes_(block_bytes) {}

void Arena::AlignedDelete::operator()(std::byte* p) const {
  ::operator delete[](p, std::align_val_t{kAlignment});
}

std::size_t Arena::capacity() const {
  std::size_t total = 0;
  for (const Block& b : blocks_) total += b.size;
  return total;
}

// The current block is full: move to the next block that fits, or insert a
// new one right after the cursor (so a repeated allocation sequence finds it
// there next time).
void* Arena::allocate_slow(std::size_t size) {
  std::size_t next = blocks_.empty() ? 0 : block_ + (offset_ > 0 ? 1 : 0);
  if (next >= blocks_.size() || blocks_[next].size < size) {
    Block b;
    b.size = size > block_bytes_ ? size : block_bytes_;
    b.data.reset(static_cast<std::byte*>(::operator new[](b.size, std::align_val_t{kAlignment})));
    blocks_.insert(blocks_.begin() + static_cast<std::ptrdiff_t>(next), std::move(b));
  }
  block_ = next;
  offset_ = size;
  in_use_ += size;
  if (in_use_ > peak_) peak_ = in_use_;
  return blocks_[block_].data.get();
}

}  // namespace odeflow::ad
