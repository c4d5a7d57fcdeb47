// Matrix products and the fused Linear op.
#include "fast_math.hpp"
#include "op_support.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstring>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace odeflow::ad {
namespace {

// Blocking of Eigen's packed product, as its own cache-based heuristic
// would choose. That heuristic costs about a hundred instructions a call, as
// much as a whole small product's bookkeeping, so each thread remembers it
// for the last shapes seen (a training loop repeats the same few shapes).
// Eigen's cache sizes are read when a shape first misses the cache.
struct BlockSizes {
  Eigen::Index m = -1, n = -1, depth = -1;
  Eigen::Index mc = 0, nc = 0, kc = 0;
};

template <Scalar S>
const BlockSizes& block_sizes(Eigen::Index m, Eigen::Index n, Eigen::Index depth) {
  constexpr std::size_t kSlots = 16;  // direct-mapped by a hash of the shape
  thread_local std::array<BlockSizes, kSlots> cache;
  const std::size_t hash = static_cast<std::size_t>(m) * 0x9E3779B1 + static_cast<std::size_t>(n) * 0x85EBCA77 +
                           static_cast<std::size_t>(depth) * 0xC2B2AE3D;
  BlockSizes& e = cache[(hash >> 7) % kSlots];
  if (e.m != m || e.n != n || e.depth != depth) {
    e = BlockSizes{m, n, depth, m, n, depth};
    Eigen::internal::computeProductBlockingSizes<S, S, 1>(e.kc, e.mc, e.nc, Eigen::Index{1});
  }
  return e;
}

// Eigen's packed product takes its packing buffers from the stack up to
// EIGEN_STACK_ALLOCATION_LIMIT (128 KiB each) and from the heap beyond: a
// 256x256 by 256x512 product would allocate on every call. Beyond the limit
// they come from the tape's arena instead and are handed back right after
// the product, so a repeated pass stays allocation-free (tape.hpp); below
// it, null buffers leave the stack to Eigen.
template <Scalar S>
class ArenaBlocking : public Eigen::internal::level3_blocking<S, S> {
 public:
  ArenaBlocking(Tape<S>& tape, Eigen::Index m, Eigen::Index n, Eigen::Index depth) {
    const BlockSizes& b = block_sizes<S>(m, n, depth);
    this->m_mc = b.mc;
    this->m_nc = b.nc;
    this->m_kc = b.kc;
    constexpr Eigen::Index kStackLimit = EIGEN_STACK_ALLOCATION_LIMIT / sizeof(S);
    if (b.mc * b.kc <= kStackLimit && b.kc * b.nc <= kStackLimit) return;
    tape_ = &tape;
    mark_ = tape.mark();
    this->m_blockA = scratch(tape, b.mc * b.kc);
    this->m_blockB = scratch(tape, b.kc * b.nc);
  }
  // The buffers only: no node is added while the product runs.
  ~ArenaBlocking() {
    if (tape_ != nullptr) tape_->rewind(mark_);
  }
  ArenaBlocking(const ArenaBlocking&) = delete;
  ArenaBlocking& operator=(const ArenaBlocking&) = delete;

 private:
  static S* scratch(Tape<S>& tape, Eigen::Index size) { return const_cast<S*>(tape.make(size, 1).data()); }

  Tape<S>* tape_ = nullptr;
  typename Tape<S>::Mark mark_;
};

// Thread-private packing buffers for the products split over threads (the
// tape's arena belongs to the calling thread). They grow to the largest
// blocks seen and stay, so repeated products do not allocate. The blocking
// is the whole product's: the same depth blocks as on one thread, so every
// column is summed in the same order whatever the number of threads.
template <Scalar S>
class ThreadBlocking : public Eigen::internal::level3_blocking<S, S> {
 public:
  ThreadBlocking(Eigen::Index m, Eigen::Index n, Eigen::Index depth) {
    const BlockSizes& b = block_sizes<S>(m, n, depth);
    this->m_mc = b.mc;
    this->m_nc = b.nc;
    this->m_kc = b.kc;
    thread_local Eigen::Matrix<S, Eigen::Dynamic, 1> block_a, block_b;  // aligned, as the kernel loads them
    if (block_a.size() < b.mc * b.kc) block_a.resize(b.mc * b.kc);
    if (block_b.size() < b.kc * b.nc) block_b.resize(b.kc * b.nc);
    this->m_blockA = block_a.data();
    this->m_blockB = block_b.data();
  }
};

// c (m x n, leading dimension m) += op(a) op(b) with Eigen's packed kernel;
// lda, ldb: the operands' column strides as stored.
template <Scalar S, int kOrderA, int kOrderB>
void blocked_product(const S* a, Eigen::Index lda, const S* b, Eigen::Index ldb, S* c, Eigen::Index m,
                     Eigen::Index n, Eigen::Index depth, Eigen::internal::level3_blocking<S, S>& blocking) {
  Eigen::internal::general_matrix_matrix_product<Eigen::Index, S, kOrderA, false, S, kOrderB, false, Eigen::ColMajor,
                                                 1>::run(m, n, depth, a, lda, b, ldb, c, 1, m, S(1), blocking,
                                                         nullptr);
}

template <Scalar S>
void blocked_product(bool ta, bool tb, const S* a, Eigen::Index lda, const S* b, Eigen::Index ldb, S* c,
                     Eigen::Index m, Eigen::Index n, Eigen::Index depth,
                     Eigen::internal::level3_blocking<S, S>& blocking) {
  constexpr int kCol = Eigen::ColMajor;
  constexpr int kRow = Eigen::RowMajor;  // a transposed column-major operand
  if (!ta && !tb) blocked_product<S, kCol, kCol>(a, lda, b, ldb, c, m, n, depth, blocking);
  else if (ta && !tb) blocked_product<S, kRow, kCol>(a, lda, b, ldb, c, m, n, depth, blocking);
  else if (!ta && tb) blocked_product<S, kCol, kRow>(a, lda, b, ldb, c, m, n, depth, blocking);
  else blocked_product<S, kRow, kRow>(a, lda, b, ldb, c, m, n, depth, blocking);
}

// Threads for a blocked product: Eigen::nbThreads() in an OpenMP build,
// fewer when a thread would get less than kMinWork multiply-adds or fewer
// than kMinColumns columns; 1 inside a parallel region.
int product_threads(Eigen::Index m, Eigen::Index n, Eigen::Index depth) {
#ifdef _OPENMP
  constexpr double kMinWork = 1 << 18;  // ~5 us of kernel: well above a parallel region's start-up
  constexpr Eigen::Index kMinColumns = 16;
  const int wanted = Eigen::nbThreads();
  if (wanted <= 1 || omp_in_parallel()) return 1;
  const double work = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(depth);
  const auto by_work = static_cast<Eigen::Index>(work / kMinWork);
  return static_cast<int>(std::max<Eigen::Index>(1, std::min<Eigen::Index>({wanted, by_work, n / kMinColumns})));
#else
  (void)m, (void)n, (void)depth;
  return 1;
#endif
}

// What a product starts from: zeros (c = op(a) op(b)), c itself (c +=), or
// a bias per row (c = bias + op(a) op(b), a Linear's output).
enum class Start { kZero, kC, kBias };

// Columns shorter than this do not vectorize: loops over them run along rows.
constexpr Eigen::Index kShortColumn = 8;

// The bias in every column of c (m x n), ahead of a product that adds to it.
// memcpy per column: Eigen's column copy peels to alignment element by element.
template <Scalar S>
void fill_columns(S* __restrict c, const S* __restrict bias, Eigen::Index m, Eigen::Index n) {
  if (m < kShortColumn) {
    for (Eigen::Index j = 0; j < n; ++j) {
      for (Eigen::Index i = 0; i < m; ++i) c[i + j * m] = bias[i];
    }
    return;
  }
  for (Eigen::Index j = 0; j < n; ++j) std::memcpy(c + j * m, bias, sizeof(S) * static_cast<std::size_t>(m));
}

// c = start + op(a) op(b) for a depth K of at most kSmallDepth, written out:
// Eigen's blocked kernel would first pack both operands, which at this depth
// costs more than the product (a first layer on a 2-D state, the backward
// product into it, every weight gradient at batch 1). c is m x n and
// overlaps neither operand; all are column-major. Down columns, which
// vectorizes, unless the columns are short (a 2x50 weight gradient): then
// along rows.
constexpr Eigen::Index kSmallDepth = 4;

template <Scalar S, int K, bool kTa, Start kStart>
void small_depth_product(S* __restrict c, const S* __restrict a, const S* __restrict b, bool tb,
                         const S* __restrict bias, Eigen::Index m, Eigen::Index n) {
  // op(a)(i, k) = a[k + i K] when a (K x m) is transposed, else a[i + k m];
  // op(b)(k, j) = b[k b_k + j b_j].
  const Eigen::Index b_k = tb ? n : 1;
  const Eigen::Index b_j = tb ? 1 : K;
  auto start = [&](Eigen::Index i, Eigen::Index j) {
    if constexpr (kStart == Start::kC) return c[i + j * m];
    else if constexpr (kStart == Start::kBias) return bias[i];
    else return S(0);
  };
  if (m >= kShortColumn || m >= n) {
    for (Eigen::Index j = 0; j < n; ++j) {
      S bj[K];
      for (int k = 0; k < K; ++k) bj[k] = b[k * b_k + j * b_j];
      S* __restrict cj = c + j * m;
      for (Eigen::Index i = 0; i < m; ++i) {
        S sum = start(i, j);
        for (int k = 0; k < K; ++k) sum += (kTa ? a[k + i * K] : a[i + k * m]) * bj[k];
        cj[i] = sum;
      }
    }
    return;
  }
  for (Eigen::Index i = 0; i < m; ++i) {
    S ai[K];
    for (int k = 0; k < K; ++k) ai[k] = kTa ? a[k + i * K] : a[i + k * m];
    for (Eigen::Index j = 0; j < n; ++j) {
      S sum = start(i, j);
      for (int k = 0; k < K; ++k) sum += ai[k] * b[k * b_k + j * b_j];
      c[i + j * m] = sum;
    }
  }
}

template <Scalar S, int K, bool kTa>
void small_depth_product(S* c, const Tensor<S>& a, const Tensor<S>& b, bool tb, Start start, const S* bias,
                         Eigen::Index m, Eigen::Index n) {
  switch (start) {
    case Start::kZero: return small_depth_product<S, K, kTa, Start::kZero>(c, a.data(), b.data(), tb, bias, m, n);
    case Start::kC: return small_depth_product<S, K, kTa, Start::kC>(c, a.data(), b.data(), tb, bias, m, n);
    case Start::kBias: return small_depth_product<S, K, kTa, Start::kBias>(c, a.data(), b.data(), tb, bias, m, n);
  }
}

template <Scalar S, int K>
void small_depth_product(S* c, const Tensor<S>& a, bool ta, const Tensor<S>& b, bool tb, Start start, const S* bias,
                         Eigen::Index m, Eigen::Index n) {
  if (ta) small_depth_product<S, K, true>(c, a, b, tb, start, bias, m, n);
  else small_depth_product<S, K, false>(c, a, b, tb, start, bias, m, n);
}

// Products of depth up to kSmallDepth with op(a) at most this size take the
// loops above (op(a) is re-read for every column of c: it should stay in
// cache); vector-shaped and tiny products Eigen's expressions
// (matrix-vector kernels and coefficient loops need no buffers); the rest
// the blocked kernel.
constexpr Eigen::Index kSmallDepthMaxA = 16384;

bool takes_blocked_kernel(Eigen::Index m, Eigen::Index n, Eigen::Index depth) {
  if (depth <= kSmallDepth && m * depth <= kSmallDepthMaxA) return false;
  return !(m == 1 || n == 1 || m + n + depth < 20 || depth == 0);
}

// c = start + op(a) op(b) on the calling thread (c already sized; `bias`
// for Start::kBias). See ArenaBlocking for the blocked kernel's buffers.
template <Scalar S, class C>
void serial_product(Tape<S>& tape, C&& c, const Tensor<S>& a, bool ta, const Tensor<S>& b, bool tb, Start start,
                    const S* bias) {
  const Eigen::Index depth = ta ? a.rows() : a.cols();
  const Eigen::Index m = c.rows();
  const Eigen::Index n = c.cols();
  switch (m * depth <= kSmallDepthMaxA ? depth : 0) {
    case 1: return small_depth_product<S, 1>(c.data(), a, ta, b, tb, start, bias, m, n);
    case 2: return small_depth_product<S, 2>(c.data(), a, ta, b, tb, start, bias, m, n);
    case 3: return small_depth_product<S, 3>(c.data(), a, ta, b, tb, start, bias, m, n);
    case 4: return small_depth_product<S, 4>(c.data(), a, ta, b, tb, start, bias, m, n);
    default: break;
  }
  static_assert(kSmallDepth == 4, "serial_product() dispatches depths 1 to kSmallDepth");
  if (start == Start::kBias) fill_columns(c.data(), bias, m, n);
  const bool add = start != Start::kZero;
  if (!takes_blocked_kernel(m, n, depth)) {
    const auto A = a.value();
    const auto B = b.value();
    auto assign = [&](const auto& expr) {
      if (add) c.noalias() += expr;
      else c.noalias() = expr;
    };
    if (!ta && !tb) assign(A * B);
    else if (ta && !tb) assign(A.transpose() * B);
    else if (!ta && tb) assign(A * B.transpose());
    else assign(A.transpose() * B.transpose());
    return;
  }
  ArenaBlocking<S> blocking(tape, m, n, depth);
  if (start == Start::kZero) c.setZero();
  blocked_product(ta, tb, a.data(), a.rows(), b.data(), b.rows(), c.data(), m, n, depth, blocking);
}

// After a product, `finish(columns, size)` (when given) runs over c's
// columns: on each thread's own columns, while they are in its cache (a
// Linear's activation).
template <Scalar S>
using Finish = void (*)(S* columns, Eigen::Index size);

// c = start + op(a) op(b): blocked products large enough for it split the
// columns of c over product_threads() threads, the rest run on the calling
// thread.
template <Scalar S, class C>
void product(Tape<S>& tape, C&& c, const Tensor<S>& a, bool ta, const Tensor<S>& b, bool tb,
             Start start = Start::kZero, const S* bias = nullptr, Finish<S> finish = nullptr) {
  const Eigen::Index m = c.rows(), n = c.cols(), depth = ta ? a.rows() : a.cols();
  const int threads = takes_blocked_kernel(m, n, depth) ? product_threads(m, n, depth) : 1;
  if (threads == 1) {
    serial_product(tape, c, a, ta, b, tb, start, bias);
    if (finish != nullptr) finish(c.data(), c.size());
    return;
  }
#ifdef _OPENMP
  // Each thread packs its own operands: no waiting on one another but at
  // the end (Eigen's own split shares packed blocks and spins on the other
  // threads, which stalls when a vCPU is descheduled).
  const Eigen::Index ldb = b.rows();
  S* c_data = c.data();
#pragma omp parallel num_threads(threads)
  {
    const Eigen::Index team = omp_get_num_threads(), id = omp_get_thread_num();
    // Multiples of 16 columns (of the kernel's 4; and the parts start on
    // whole vector packets, so that `finish` treats every element as on one
    // thread); the last thread takes the rest.
    const Eigen::Index width = (n / team) & ~Eigen::Index(15);
    const Eigen::Index j0 = id * width;
    const Eigen::Index cols = id + 1 == team ? n - j0 : width;
    S* c_cols = c_data + j0 * m;
    if (start == Start::kBias) fill_columns(c_cols, bias, m, cols);
    else if (start == Start::kZero) std::fill_n(c_cols, m * cols, S(0));
    ThreadBlocking<S> blocking(m, n, depth);
    // op(b)'s columns from j0 on: b's rows when it is transposed.
    const S* b_cols = b.data() + (tb ? j0 : j0 * ldb);
    blocked_product(ta, tb, a.data(), a.rows(), b_cols, ldb, c_cols, m, cols, depth, blocking);
    if (finish != nullptr) finish(c_cols, m * cols);
  }
#endif
}

template <Scalar S>
Eigen::Index dim(const Tensor<S>& t, bool transposed, bool first) {
  return (first != transposed) ? t.rows() : t.cols();
}

// C = op_a(A) op_b(B). With bar = C_bar:
//   A_bar = bar op_b(B)^T, or its transpose op_b(B) bar^T when A was transposed;
//   B_bar = op_a(A)^T bar, or its transpose bar^T op_a(A) when B was transposed.
template <Scalar S>
void matmul_vjp(Tape<S>& tape, const Node<S>& n, const Tensor<S>& bar) {
  const bool ta = n.iattr[0] != 0;
  const bool tb = n.iattr[1] != 0;
  const Tensor<S>& a = n.in[0];
  const Tensor<S>& b = n.in[1];
  if (tape.wants(a)) tape.accumulate(a, ta ? matmul(b, bar, tb, true) : matmul(bar, b, false, !tb));
  if (tape.wants(b)) tape.accumulate(b, tb ? matmul(bar, a, true, ta) : matmul(a, bar, !ta, false));
}

// g += the row sums of bar: down the columns, which vectorizes (Eigen's
// rowwise() sums along the rows), unless they are short.
template <Scalar S>
void add_row_sums(S* __restrict g, const Tensor<S>& bar) {
  const Eigen::Index m = bar.rows();
  const Eigen::Index n = bar.cols();
  const S* __restrict data = bar.data();
  if (m < kShortColumn) {
    for (Eigen::Index i = 0; i < m; ++i) {
      S sum = 0;
      for (Eigen::Index j = 0; j < n; ++j) sum += data[i + j * m];
      g[i] += sum;
    }
    return;
  }
  for (Eigen::Index j = 0; j < n; ++j) {
    for (Eigen::Index i = 0; i < m; ++i) g[i] += data[i + j * m];
  }
}

// bias_done: the bias's gradient was already added (fused with z_bar below).
template <Scalar S>
void linear_vjp_with(Tape<S>& tape, const Node<S>& n, const Tensor<S>& bar, bool bias_done) {
  const Tensor<S>& x = n.in[0];
  const Tensor<S>& w = n.in[1];
  const Tensor<S>& b = n.in[2];
  if (tape.wants(x)) tape.accumulate(x, matmul(w, bar));
  // Into Parameter::grad directly when backward() builds no graph.
  if (Matrix<S>* w_grad = tape.parameter_grad(w)) product(tape, *w_grad, x, false, bar, true, Start::kC);
  else if (tape.wants(w)) tape.accumulate(w, matmul(x, bar, false, true));
  if (!b.defined() || bias_done) return;
  if (Matrix<S>* b_grad = tape.parameter_grad(b)) add_row_sums(b_grad->data(), bar);
  else if (tape.wants(b)) tape.accumulate(b, sum(bar, Axis::kCols));
}

template <Scalar S>
void linear_vjp(Tape<S>& tape, const Node<S>& n, const Tensor<S>& bar) {
  linear_vjp_with(tape, n, bar, false);
}

// z_bar = bar * f'(y) (tanh or sigmoid) with g += its row sums, column by
// column while the column is in cache: the bias gradient without a second
// pass over z_bar. The same arithmetic as unary_backward then add_row_sums.
template <Scalar S>
void activation_backward_row_sums(detail::UnaryKind kind, const Tensor<S>& bar, const Tensor<S>& y,
                                  const Tensor<S>& z_bar, S* g) {
  const Eigen::Index m = bar.rows();
  using Col = Eigen::Map<const Eigen::Array<S, Eigen::Dynamic, 1>>;
  using OutCol = Eigen::Map<Eigen::Array<S, Eigen::Dynamic, 1>>;
  OutCol sums(g, m);
  for (Eigen::Index j = 0; j < bar.cols(); ++j) {
    const Col bj(bar.data() + j * m, m);
    const Col yj(y.data() + j * m, m);
    OutCol zj(const_cast<S*>(z_bar.data()) + j * m, m);
    if (kind == detail::UnaryKind::kTanh) zj = bj * (S(1) - yj.square());
    else zj = bj * yj * (S(1) - yj);
    sums += zj;
  }
}

// y = f(z), z = linear: z_bar = bar * f'(y), then the linear VJP.
template <Scalar S>
void linear_activation_vjp(Tape<S>& tape, const Node<S>& n, const Tensor<S>& bar) {
  const auto kind = n.iattr[0] == 0 ? detail::UnaryKind::kTanh : detail::UnaryKind::kSigmoid;
  const Tensor<S>& b = n.in[2];
  // No graph built and the bias's gradient in place (long columns; short
  // ones are summed along rows by add_row_sums).
  Matrix<S>* b_grad = b.defined() && bar.rows() >= kShortColumn ? tape.parameter_grad(b) : nullptr;
  if (b_grad == nullptr) return linear_vjp(tape, n, detail::output_activation_backward(kind, bar, n.out));
  const Tensor<S> z_bar = tape.make(bar.rows(), bar.cols(), n.out.shape());
  activation_backward_row_sums(kind, bar, n.out, z_bar, b_grad->data());
  linear_vjp_with(tape, n, z_bar, true);
}

}  // namespace

template <Scalar S>
Tensor<S> matmul(const Tensor<S>& a, const Tensor<S>& b, bool transpose_a, bool transpose_b) {
  detail::require_defined(a, "matmul", "first operand");
  detail::require_defined(b, "matmul", "second operand");
  detail::require_same_tape("matmul", a, b);
  const Eigen::Index inner_a = dim(a, transpose_a, false);
  const Eigen::Index inner_b = dim(b, transpose_b, true);
  if (inner_a != inner_b) {
    throw ShapeError(fmt::format("matmul: shapes {}{} and {}{} do not chain ({} != {})", a.shape_string(),
                                 transpose_a ? "^T" : "", b.shape_string(), transpose_b ? "^T" : "", inner_a, inner_b));
  }
  Tape<S>& tape = a.tape();
  Tensor<S> out = tape.make(dim(a, transpose_a, true), dim(b, transpose_b, false));
  product(tape, tape.mutable_value(out), a, transpose_a, b, transpose_b);
  if (!tape.records(a, b)) return out;
  return tape.record(out, matmul_vjp<S>, "matmul", {a, b}, {}, {transpose_a ? 1 : 0, transpose_b ? 1 : 0});
}

namespace {

// The value of linear(x, weight_t, bias), `finish` applied.
template <Scalar S>
Tensor<S> linear_value(const Tensor<S>& x, const Tensor<S>& weight_t, const Tensor<S>& bias, Finish<S> finish) {
  detail::require_defined(x, "linear", "input");
  detail::require_defined(weight_t, "linear", "weight");
  detail::require_same_tape("linear", x, weight_t);
  if (weight_t.rows() != x.rows()) {
    throw ShapeError(fmt::format("linear: weight [out, in] = [{}, {}] does not take an input of {} ({} features)",
                                 weight_t.cols(), weight_t.rows(), x.shape_string(), x.rows()));
  }
  if (bias.defined() && (bias.rows() != weight_t.cols() || bias.cols() != 1)) {
    throw ShapeError(fmt::format("linear: bias is {} for {} outputs (expected {}x1)", bias.shape_string(),
                                 weight_t.cols(), weight_t.cols()));
  }
  Tape<S>& tape = x.tape();
  Tensor<S> out = tape.make(weight_t.cols(), x.cols());
  // The product starts from the bias: one pass over the output fewer than
  // adding the bias after.
  product(tape, tape.mutable_value(out), weight_t, true, x, false, bias.defined() ? Start::kBias : Start::kZero,
          bias.defined() ? bias.data() : nullptr, finish);
  return out;
}

template <Scalar S>
void tanh_in_place(S* data, Eigen::Index size) {
  Eigen::Map<Eigen::Array<S, Eigen::Dynamic, 1>> y(data, size);
  detail::tanh_array(y, y);
}

template <Scalar S>
void sigmoid_in_place(S* data, Eigen::Index size) {
  Eigen::Map<Eigen::Array<S, Eigen::Dynamic, 1>> y(data, size);
  y = (S(1) + (-y).exp()).inverse();
}

}  // namespace

template <Scalar S>
Tensor<S> linear(const Tensor<S>& x, const Tensor<S>& weight_t, const Tensor<S>& bias) {
  const Tensor<S> out = linear_value<S>(x, weight_t, bias, nullptr);
  Tape<S>& tape = x.tape();
  const bool rec = bias.defined() ? tape.records(x, weight_t, bias) : tape.records(x, weight_t);
  return rec ? tape.record(out, linear_vjp<S>, "linear", {x, weight_t, bias}) : out;
}

template <Scalar S>
Tensor<S> linear(const Tensor<S>& x, const Tensor<S>& weight_t, const Tensor<S>& bias, FusedActivation activation) {
  const bool tanh = activation == FusedActivation::kTanh;
  // One node for the product and the activation, applied while the
  // product's columns are in cache.
  const Tensor<S> y = linear_value<S>(x, weight_t, bias, tanh ? &tanh_in_place<S> : &sigmoid_in_place<S>);
  Tape<S>& tape = x.tape();
  const bool rec = bias.defined() ? tape.records(x, weight_t, bias) : tape.records(x, weight_t);
  return rec ? tape.record(y, linear_activation_vjp<S>, tanh ? "linear_tanh" : "linear_sigmoid", {x, weight_t, bias},
                           {}, {tanh ? 0 : 1})
             : y;
}

#define ODEFLOW_INSTANTIATE(S)                                                      \
  template Tensor<S> linear(const Tensor<S>&, const Tensor<S>&, const Tensor<S>&, FusedActivation); \
  template Tensor<S> matmul(const Tensor<S>&, const Tensor<S>&, bool, bool);        \
  template Tensor<S> linear(const Tensor<S>&, const Tensor<S>&, const Tensor<S>&);
ODEFLOW_INSTANTIATE(float)
ODEFLOW_INSTANTIATE(double)
#undef ODEFLOW_INSTANTIATE

}  // namespace odeflow::ad
