// The operations of the autodiff engine. Each computes its value in the
// tape's arena and, when recording and an input requires a gradient,
// records its VJP (written with these same ops, so it is differentiable).
//
// Tensors are `features x batch` (see tensor.hpp). Binary elementwise ops
// broadcast like NumPy on the two dimensions: each operand's rows are either
// the result's or 1, and the same for columns (a bias `n x 1` along the
// batch, a scalar `1 x 1` everywhere); gradients are summed back over the
// broadcast dimensions. Shape mismatches throw ShapeError naming the op and
// both shapes.
#pragma once

#include <odeflow/ad/tape.hpp>

#include <cstdint>
#include <span>
#include <vector>

namespace odeflow::ad {

// Which dimension a reduction collapses: kRows sums each column (one value
// per sample, result 1 x cols); kCols sums each row (result rows x 1).
enum class Axis { kRows, kCols };

// ---- Elementwise, binary (broadcasting) -----------------------------------
template <Scalar S> Tensor<S> add(const Tensor<S>& a, const Tensor<S>& b);
template <Scalar S> Tensor<S> sub(const Tensor<S>& a, const Tensor<S>& b);
template <Scalar S> Tensor<S> mul(const Tensor<S>& a, const Tensor<S>& b);
template <Scalar S> Tensor<S> div(const Tensor<S>& a, const Tensor<S>& b);
// a * s + c with plain numbers (one op, one node).
template <Scalar S> Tensor<S> affine(const Tensor<S>& a, double s, double c);

// ---- Elementwise, unary ----------------------------------------------------
template <Scalar S> Tensor<S> neg(const Tensor<S>& x);
template <Scalar S> Tensor<S> exp(const Tensor<S>& x);
template <Scalar S> Tensor<S> log(const Tensor<S>& x);
template <Scalar S> Tensor<S> log1p(const Tensor<S>& x);
template <Scalar S> Tensor<S> sqrt(const Tensor<S>& x);
template <Scalar S> Tensor<S> square(const Tensor<S>& x);
template <Scalar S> Tensor<S> pow(const Tensor<S>& x, double exponent);
template <Scalar S> Tensor<S> abs(const Tensor<S>& x);
template <Scalar S> Tensor<S> sin(const Tensor<S>& x);
template <Scalar S> Tensor<S> cos(const Tensor<S>& x);
template <Scalar S> Tensor<S> tanh(const Tensor<S>& x);
template <Scalar S> Tensor<S> sigmoid(const Tensor<S>& x);
// PyTorch's: log(1 + exp(beta x)) / beta, and x itself where beta x > threshold.
template <Scalar S> Tensor<S> softplus(const Tensor<S>& x, double beta = 1, double threshold = 20);
template <Scalar S> Tensor<S> relu(const Tensor<S>& x);
template <Scalar S> Tensor<S> elu(const Tensor<S>& x, double alpha = 1);
template <Scalar S> Tensor<S> silu(const Tensor<S>& x);
// The exact GELU, x * Phi(x) with the normal CDF (PyTorch's default).
template <Scalar S> Tensor<S> gelu(const Tensor<S>& x);
// Gradient 1 strictly inside (lo, hi), 0 outside, as PyTorch.
template <Scalar S> Tensor<S> clamp(const Tensor<S>& x, double lo, double hi);

// ---- Linear algebra --------------------------------------------------------
// op(a) * op(b) with op = transpose where asked.
template <Scalar S>
Tensor<S> matmul(const Tensor<S>& a, const Tensor<S>& b, bool transpose_a = false, bool transpose_b = false);
// weight_t^T x + bias: a Linear layer in one op. weight_t is `in x out` (a
// PyTorch [out, in] weight's bytes); bias is `out x 1` or undefined.
template <Scalar S> Tensor<S> linear(const Tensor<S>& x, const Tensor<S>& weight_t, const Tensor<S>& bias);
// activation(linear(x, weight_t, bias)) as one op: same values, one node and
// one elementwise pass fewer (a hidden layer of an MLP).
enum class FusedActivation { kTanh, kSigmoid };
template <Scalar S>
Tensor<S> linear(const Tensor<S>& x, const Tensor<S>& weight_t, const Tensor<S>& bias, FusedActivation activation);

// ---- Reductions and normalizations -----------------------------------------
template <Scalar S> Tensor<S> sum(const Tensor<S>& x);
template <Scalar S> Tensor<S> sum(const Tensor<S>& x, Axis axis);
template <Scalar S> Tensor<S> mean(const Tensor<S>& x);
template <Scalar S> Tensor<S> mean(const Tensor<S>& x, Axis axis);
template <Scalar S> Tensor<S> logsumexp(const Tensor<S>& x, Axis axis);
template <Scalar S> Tensor<S> softmax(const Tensor<S>& x, Axis axis);
template <Scalar S> Tensor<S> log_softmax(const Tensor<S>& x, Axis axis);
// Mean over the batch of -log softmax(logits)[label]; logits are
// classes x batch and labels[b] in [0, classes).
template <Scalar S> Tensor<S> cross_entropy(const Tensor<S>& logits, std::span<const std::int64_t> labels);

// ---- Shapes ----------------------------------------------------------------
// Stacks along the features (rows); all parts have the same columns.
template <Scalar S> Tensor<S> concat(std::span<const Tensor<S>> parts);
template <Scalar S> Tensor<S> concat(const Tensor<S>& a, const Tensor<S>& b);
// Rows [begin, begin + count).
template <Scalar S> Tensor<S> slice_rows(const Tensor<S>& x, Eigen::Index begin, Eigen::Index count);
// Columns [begin, begin + count) (samples of a batch; blocks of odeint's outputs).
template <Scalar S> Tensor<S> slice_cols(const Tensor<S>& x, Eigen::Index begin, Eigen::Index count);
// Consecutive row blocks of the given sizes (which must sum to x.rows()).
template <Scalar S> std::vector<Tensor<S>> split(const Tensor<S>& x, std::span<const Eigen::Index> sizes);
// Same elements in column-major order, new dimensions (and geometry).
template <Scalar S> Tensor<S> reshape(const Tensor<S>& x, Eigen::Index rows, Eigen::Index cols, Shape shape = {});
template <Scalar S> Tensor<S> transpose(const Tensor<S>& x);
// x repeated along broadcast dimensions (rows 1 -> rows, cols 1 -> cols).
template <Scalar S> Tensor<S> broadcast_to(const Tensor<S>& x, Eigen::Index rows, Eigen::Index cols);
// Drops the image geometry: C*H*W features per sample.
template <Scalar S> Tensor<S> flatten(const Tensor<S>& x);

// ---- Images ----------------------------------------------------------------
struct Conv2dGeometry {
  int kernel_h = 3;
  int kernel_w = 3;
  int stride = 1;
  int padding = 0;
};
// 2-D cross-correlation as PyTorch's Conv2d. x has an image shape
// (C_in x H x W per column); weight is (C_in*kh*kw) x C_out (a PyTorch
// [out, in, kh, kw] weight's bytes); bias is C_out x 1 or undefined.
template <Scalar S>
Tensor<S> conv2d(const Tensor<S>& x, const Tensor<S>& weight, const Tensor<S>& bias, const Conv2dGeometry& geometry);
template <Scalar S> Tensor<S> avg_pool2d(const Tensor<S>& x, int kernel, int stride, int padding = 0);
// PyTorch's adaptive average pooling to out_h x out_w.
template <Scalar S> Tensor<S> adaptive_avg_pool2d(const Tensor<S>& x, int out_h, int out_w);

// ---- Operators ---------------------------------------------------------------
template <Scalar S> Tensor<S> operator+(const Tensor<S>& a, const Tensor<S>& b) { return add(a, b); }
template <Scalar S> Tensor<S> operator-(const Tensor<S>& a, const Tensor<S>& b) { return sub(a, b); }
template <Scalar S> Tensor<S> operator*(const Tensor<S>& a, const Tensor<S>& b) { return mul(a, b); }
template <Scalar S> Tensor<S> operator/(const Tensor<S>& a, const Tensor<S>& b) { return div(a, b); }
template <Scalar S> Tensor<S> operator-(const Tensor<S>& a) { return neg(a); }
template <Scalar S> Tensor<S> operator+(const Tensor<S>& a, double c) { return affine(a, 1.0, c); }
template <Scalar S> Tensor<S> operator+(double c, const Tensor<S>& a) { return affine(a, 1.0, c); }
template <Scalar S> Tensor<S> operator-(const Tensor<S>& a, double c) { return affine(a, 1.0, -c); }
template <Scalar S> Tensor<S> operator-(double c, const Tensor<S>& a) { return affine(a, -1.0, c); }
template <Scalar S> Tensor<S> operator*(const Tensor<S>& a, double s) { return affine(a, s, 0.0); }
template <Scalar S> Tensor<S> operator*(double s, const Tensor<S>& a) { return affine(a, s, 0.0); }
template <Scalar S> Tensor<S> operator/(const Tensor<S>& a, double s) { return affine(a, 1.0 / s, 0.0); }

}  // namespace odeflow::ad
