#include <odeflow/ad/arena.hpp>

#include <algorithm>
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

// The current block is full: move on to the smallest free block (those past
// the cursor; the nearest kSearch) that fits, brought right after the
// cursor, else insert a new one there (so a repeated allocation sequence
// finds it there next time). Taking a free block from further on, rather
// than inserting in front of a smaller next one, keeps sequences that
// alternate over the same region (a forward pass, then VJPs after rewinding
// into it) from adding blocks, and fresh pages, every repetition.
void* Arena::allocate_slow(std::size_t size) {
  constexpr std::size_t kSearch = 128;  // bounds the scan on a tape of many blocks
  std::size_t next = blocks_.empty() ? 0 : block_ + (offset_ > 0 ? 1 : 0);
  std::size_t best = blocks_.size();
  for (std::size_t i = next; i < blocks_.size() && i < next + kSearch; ++i) {
    if (blocks_[i].size >= size && (best == blocks_.size() || blocks_[i].size < blocks_[best].size)) best = i;
  }
  if (best < blocks_.size()) {
    // Blocks past the cursor hold nothing live: reordering them moves no data.
    std::rotate(blocks_.begin() + static_cast<std::ptrdiff_t>(next), blocks_.begin() + static_cast<std::ptrdiff_t>(best),
                blocks_.begin() + static_cast<std::ptrdiff_t>(best) + 1);
  } else {
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
