// Matrix products and the fused Linear op.
#include "fast_math.hpp"
#include "op_support.hpp"

#include <Eigen/Core>

namespace odeflow::ad {
namespace {

// Eigen's blocked matrix product packs its operands into buffers it takes
// from the heap once they outgrow its stack limit (128 KiB): a 256x256 by
// 256x512 product would allocate on every call. These buffers come from the
// tape's arena instead and are handed back right after the product, so a
// repeated pass stays allocation-free (tape.hpp). Sizes follow Eigen's own
// cache-based heuristic, as its default blocking would choose.
template <Scalar S>
class ArenaBlocking : public Eigen::internal::level3_blocking<S, S> {
 public:
  ArenaBlocking(Tape<S>& tape, Eigen::Index m, Eigen::Index n, Eigen::Index depth) {
    this->m_mc = m;
    this->m_nc = n;
    this->m_kc = depth;
    Eigen::internal::computeProductBlockingSizes<S, S, 1>(this->m_kc, this->m_mc, this->m_nc, Eigen::Index{1});
    this->m_blockA = scratch(tape, this->m_mc * this->m_kc);
    this->m_blockB = scratch(tape, this->m_kc * this->m_nc);
  }

 private:
  static S* scratch(Tape<S>& tape, Eigen::Index size) { return const_cast<S*>(tape.make(size, 1).data()); }
};

template <Scalar S, int kOrderA, int kOrderB, class C>
void blocked_product(const Tensor<S>& a, const Tensor<S>& b, C& c, Eigen::Index depth,
                     ArenaBlocking<S>& blocking) {
  Eigen::internal::general_matrix_matrix_product<Eigen::Index, S, kOrderA, false, S, kOrderB, false, Eigen::ColMajor,
                                                 1>::run(c.rows(), c.cols(), depth, a.data(), a.rows(), b.data(),
                                                         b.rows(), c.data(), 1, c.rows(), S(1), blocking, nullptr);
}

// c = op(a) op(b), or c += op(a) op(b) with `add` (c already sized). Vector-shaped and tiny products take
// Eigen's expressions (matrix-vector kernels and coefficient loops need no
// buffers); depth-1 products (a weight gradient at batch 1) the outer product,
// which Eigen's heuristic would send through the packing GEMM; the rest the
// blocked kernel with arena buffers.
template <Scalar S, class C>
void product(Tape<S>& tape, C&& c, const Tensor<S>& a, bool ta, const Tensor<S>& b, bool tb, bool add = false) {
  const Eigen::Index depth = ta ? a.rows() : a.cols();
  if (depth == 1) {
    // op(a) is one column and op(b) one row, contiguous whatever the transposes.
    const S* u = a.data();
    const S* v = b.data();
    for (Eigen::Index j = 0; j < c.cols(); ++j) {
      S* column = c.data() + j * c.rows();
      if (add) {
        for (Eigen::Index i = 0; i < c.rows(); ++i) column[i] += u[i] * v[j];
      } else {
        for (Eigen::Index i = 0; i < c.rows(); ++i) column[i] = u[i] * v[j];
      }
    }
    return;
  }
  if (c.rows() == 1 || c.cols() == 1 || c.rows() + c.cols() + depth < 20 || depth == 0) {
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
  const typename Tape<S>::Mark mark = tape.mark();
  ArenaBlocking<S> blocking(tape, c.rows(), c.cols(), depth);
  if (!add) c.setZero();
  constexpr int kCol = Eigen::ColMajor;
  constexpr int kRow = Eigen::RowMajor;  // a transposed column-major operand
  if (!ta && !tb) blocked_product<S, kCol, kCol>(a, b, c, depth, blocking);
  else if (ta && !tb) blocked_product<S, kRow, kCol>(a, b, c, depth, blocking);
  else if (!ta && tb) blocked_product<S, kCol, kRow>(a, b, c, depth, blocking);
  else blocked_product<S, kRow, kRow>(a, b, c, depth, blocking);
  tape.rewind(mark);  // the buffers only; no node was added since the mark
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

template <Scalar S>
void linear_vjp(Tape<S>& tape, const Node<S>& n, const Tensor<S>& bar) {
  const Tensor<S>& x = n.in[0];
  const Tensor<S>& w = n.in[1];
  const Tensor<S>& b = n.in[2];
  if (tape.wants(x)) tape.accumulate(x, matmul(w, bar));
  // Into Parameter::grad directly when backward() builds no graph.
  if (Matrix<S>* w_grad = tape.parameter_grad(w)) product(tape, *w_grad, x, false, bar, true, true);
  else if (tape.wants(w)) tape.accumulate(w, matmul(x, bar, false, true));
  if (!b.defined()) return;
  if (Matrix<S>* b_grad = tape.parameter_grad(b)) *b_grad += bar.value().rowwise().sum();
  else if (tape.wants(b)) tape.accumulate(b, sum(bar, Axis::kCols));
}

// y = f(z), z = linear: z_bar = bar * f'(y), then the linear VJP.
template <Scalar S>
void linear_activation_vjp(Tape<S>& tape, const Node<S>& n, const Tensor<S>& bar) {
  const auto kind = n.iattr[0] == 0 ? detail::UnaryKind::kTanh : detail::UnaryKind::kSigmoid;
  linear_vjp(tape, n, detail::output_activation_backward(kind, bar, n.out));
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

template <Scalar S>
Tensor<S> linear(const Tensor<S>& x, const Tensor<S>& weight_t, const Tensor<S>& bias) {
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
  auto y = tape.mutable_value(out);
  product(tape, y, weight_t, true, x, false);
  if (bias.defined()) y.colwise() += bias.value().col(0);
  const bool rec = bias.defined() ? tape.records(x, weight_t, bias) : tape.records(x, weight_t);
  return rec ? tape.record(out, linear_vjp<S>, "linear", {x, weight_t, bias}) : out;
}

template <Scalar S>
Tensor<S> linear(const Tensor<S>& x, const Tensor<S>& weight_t, const Tensor<S>& bias, FusedActivation activation) {
  Tape<S>& tape = x.tape();
  Tensor<S> z;
  {
    NoGradScope<S> plain(tape);  // the value only; one node for both below
    z = linear(x, weight_t, bias);
  }
  auto y = detail::out_arr(z);
  if (activation == FusedActivation::kTanh) detail::tanh_array(y, y);
  else y = (S(1) + (-y).exp()).inverse();
  const bool rec = bias.defined() ? tape.records(x, weight_t, bias) : tape.records(x, weight_t);
  return rec ? tape.record(z, linear_activation_vjp<S>, activation == FusedActivation::kTanh ? "linear_tanh" : "linear_sigmoid",
                           {x, weight_t, bias}, {}, {activation == FusedActivation::kTanh ? 0 : 1})
             : z;
}

#define ODEFLOW_INSTANTIATE(S)                                                      \
  template Tensor<S> linear(const Tensor<S>&, const Tensor<S>&, const Tensor<S>&, FusedActivation); \
  template Tensor<S> matmul(const Tensor<S>&, const Tensor<S>&, bool, bool);        \
  template Tensor<S> linear(const Tensor<S>&, const Tensor<S>&, const Tensor<S>&);
ODEFLOW_INSTANTIATE(float)
ODEFLOW_INSTANTIATE(double)
#undef ODEFLOW_INSTANTIATE

}  // namespace odeflow::ad
