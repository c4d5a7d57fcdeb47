// A bump allocator whose memory is reused between uses: the tape's tensors
// live here, so a forward+backward pass that repeats the same sequence of
// allocations touches the heap only the first time (warm-up).
//
// Blocks are never moved or freed before the arena dies; reset() and
// rewind() only move the cursor back, so every pointer handed out stays
// valid until the cursor passes it again. Every allocation is aligned to
// kAlignment bytes (a cache line, enough for any vector instruction).
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

namespace odeflow::ad {

class Arena {
 public:
  static constexpr std::size_t kAlignment = 64;

  // Where the cursor stands; rewind(mark) frees everything allocated since.
  struct Mark {
    std::size_t block = 0;
    std::size_t offset = 0;
    std::size_t in_use = 0;
  };

  explicit Arena(std::size_t block_bytes = std::size_t{1} << 16);
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;
  Arena(Arena&&) noexcept = default;
  Arena& operator=(Arena&&) noexcept = default;

  // `bytes` rounded up to the alignment; never returns null (throws
  // std::bad_alloc like operator new).
  void* allocate(std::size_t bytes) {
    const std::size_t size = (bytes + kAlignment - 1) & ~(kAlignment - 1);
    if (block_ < blocks_.size() && offset_ + size <= blocks_[block_].size) {
      void* p = blocks_[block_].data.get() + offset_;
      offset_ += size;
      in_use_ += size;
      if (in_use_ > peak_) peak_ = in_use_;
      return p;
    }
    return allocate_slow(size);
  }

  Mark mark() const { return Mark{block_, offset_, in_use_}; }
  void rewind(const Mark& m) {
    block_ = m.block;
    offset_ = m.offset;
    in_use_ = m.in_use;
  }
  void reset() { rewind(Mark{}); }

  // Bytes handed out since the last reset (rounded sizes), the most ever at
  // once, and the bytes reserved from the heap.
  std::size_t bytes_in_use() const { return in_use_; }
  std::size_t peak_bytes() const { return peak_; }
  std::size_t capacity() const;
  void reset_peak() { peak_ = in_use_; }

 private:
  struct AlignedDelete {
    void operator()(std::byte* p) const;
  };
  struct Block {
    std::unique_ptr<std::byte[], AlignedDelete> data;
    std::size_t size = 0;
  };

  void* allocate_slow(std::size_t size);

  std::vector<Block> blocks_;
  std::size_t block_bytes_;
  std::size_t block_ = 0;
  std::size_t offset_ = 0;
  std::size_t in_use_ = 0;
  std::size_t peak_ = 0;
};

}  // namespace odeflow::ad
