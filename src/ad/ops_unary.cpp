// Elementwise unary ops. Each kind has three pieces:
//  - its value, fused in one Eigen expression;
//  - its derivative d(x, y) (y = f(x)), fused into the internal op
//    unary_backward(bar, x, y) = bar * d, the first-order VJP;
//  - the derivative of d, composed of differentiable ops, which makes
//    unary_backward itself differentiable (second and higher orders).
#include "fast_math.hpp"
#include "op_support.hpp"

#include <cmath>
#include <numbers>

namespace odeflow::ad {
namespace {

using detail::arr;
using detail::out_arr;
using detail::UnaryKind;

struct Attr {
  double a = 0;  // exponent, beta, alpha or lo
  double b = 0;  // threshold or hi
};

template <Scalar S>
Attr attr_of(const Node<S>& n) {
  return Attr{n.attr[1], n.attr[2]};
}

template <class A, class S>
auto sigmoid_of(const A& x) {
  return (S(1) + (-x).exp()).inverse();
}

template <Scalar S>
void unary_value(UnaryKind kind, Attr at, detail::ConstArrayMap<S> x, detail::ArrayMap<S> y) {
  const S a = static_cast<S>(at.a);
  const S b = static_cast<S>(at.b);
  switch (kind) {
    case UnaryKind::kExp: y = x.exp(); break;
    case UnaryKind::kLog: y = x.log(); break;
    case UnaryKind::kLog1p: y = x.log1p(); break;
    case UnaryKind::kSqrt: y = x.sqrt(); break;
    case UnaryKind::kSquare: y = x.square(); break;
    case UnaryKind::kPow: y = x.pow(a); break;
    case UnaryKind::kAbs: y = x.abs(); break;
    case UnaryKind::kSin: y = x.sin(); break;
    case UnaryKind::kCos: y = x.cos(); break;
    case UnaryKind::kTanh: detail::tanh_array(x, y); break;
    case UnaryKind::kSigmoid: y = sigmoid_of<decltype(x), S>(x); break;
    case UnaryKind::kSoftplus:
      y = (a * x > b).select(x, (a * x).exp().log1p() / a);
      break;
    case UnaryKind::kRelu: y = x.max(S(0)); break;
    case UnaryKind::kElu: y = (x > S(0)).select(x, a * x.expm1()); break;
    case UnaryKind::kSilu: y = x * sigmoid_of<decltype(x), S>(x); break;
    case UnaryKind::kGelu:
      y = x.unaryExpr([](S v) { return S(0.5) * v * (S(1) + std::erf(v * static_cast<S>(std::numbers::sqrt2 / 2))); });
      break;
    case UnaryKind::kClamp: y = x.max(a).min(b); break;
  }
}

// d = f'(x) from x and y = f(x), written into `d`.
template <Scalar S>
void unary_derivative(UnaryKind kind, Attr at, detail::ConstArrayMap<S> x, detail::ConstArrayMap<S> y,
                      detail::ArrayMap<S> d);

template <Scalar S>
Tensor<S> unary_backward(UnaryKind kind, Attr at, const Tensor<S>& bar, const Tensor<S>& x, const Tensor<S>& y);

template <Scalar S>
void unary_vjp(Tape<S>& tape, const Node<S>& n, const Tensor<S>& bar) {
  tape.accumulate(n.in[0], unary_backward(static_cast<UnaryKind>(n.iattr[0]), attr_of(n), bar, n.in[0], n.out));
}

constexpr double kInvSqrt2Pi = 0.3989422804014327;  // 1 / sqrt(2 pi)

template <Scalar S>
Tensor<S> mask(const Tensor<S>& x, bool (*keep)(S, Attr), Attr at) {
  Tensor<S> m = x.tape().make(x.rows(), x.cols(), x.shape());
  out_arr(m) = arr(x).unaryExpr([&](S v) { return keep(v, at) ? S(1) : S(0); });
  return m;
}

// d(d)/dx (or d(d)/dy for kinds whose d reads y), composed of ops; undefined
// where it is identically zero.
template <Scalar S>
Tensor<S> second_derivative(UnaryKind kind, Attr at, const Tensor<S>& x, const Tensor<S>& y, bool& wrt_y) {
  wrt_y = false;
  switch (kind) {
    case UnaryKind::kExp: wrt_y = true; return x.tape().full(x.rows(), x.cols(), S(1), x.shape());
    case UnaryKind::kTanh: wrt_y = true; return affine(y, -2.0, 0.0);
    case UnaryKind::kSigmoid: wrt_y = true; return affine(y, -2.0, 1.0);
    case UnaryKind::kSqrt: wrt_y = true; return affine(pow(y, -2.0), -0.5, 0.0);
    case UnaryKind::kLog: return affine(pow(x, -2.0), -1.0, 0.0);
    case UnaryKind::kLog1p: return affine(pow(affine(x, 1.0, 1.0), -2.0), -1.0, 0.0);
    case UnaryKind::kSquare: return x.tape().full(x.rows(), x.cols(), S(2), x.shape());
    case UnaryKind::kPow:
      return at.a == 1.0 ? Tensor<S>() : affine(pow(x, at.a - 2.0), at.a * (at.a - 1.0), 0.0);
    case UnaryKind::kSin: return neg(sin(x));
    case UnaryKind::kCos: return neg(cos(x));
    case UnaryKind::kSoftplus: {
      const Tensor<S> s = sigmoid(affine(x, at.a, 0.0));
      const Tensor<S> below = mask<S>(x, [](S v, Attr t) { return t.a * v <= t.b; }, at);
      return mul(affine(mul(s, affine(s, -1.0, 1.0)), at.a, 0.0), below);
    }
    case UnaryKind::kElu: {
      const Tensor<S> negative = mask<S>(x, [](S v, Attr) { return v <= S(0); }, at);
      wrt_y = true;  // d = y + alpha on x <= 0, so dd/dy = 1 there
      return negative;
    }
    case UnaryKind::kSilu: {
      const Tensor<S> s = sigmoid(x);
      return mul(mul(s, affine(s, -1.0, 1.0)), affine(mul(x, affine(s, -2.0, 1.0)), 1.0, 2.0));
    }
    case UnaryKind::kGelu: {
      const Tensor<S> x2 = square(x);
      return mul(affine(exp(affine(x2, -0.5, 0.0)), kInvSqrt2Pi, 0.0), affine(x2, -1.0, 2.0));
    }
    case UnaryKind::kAbs:
    case UnaryKind::kRelu:
    case UnaryKind::kClamp: return Tensor<S>();
  }
  return Tensor<S>();
}

// g = bar * d(x, y): cotangent c gives bar_bar = c * d, and through d,
// c * bar * dd to x (or y).
template <Scalar S>
void unary_backward_vjp(Tape<S>& tape, const Node<S>& n, const Tensor<S>& c) {
  const auto kind = static_cast<UnaryKind>(n.iattr[0]);
  const Attr at = attr_of(n);
  const Tensor<S>& bar = n.in[0];
  const Tensor<S>& x = n.in[1];
  const Tensor<S>& y = n.in[2];
  if (tape.wants(bar)) tape.accumulate(bar, unary_backward(kind, at, c, x, y));
  if (!tape.wants(x) && !tape.wants(y)) return;
  bool wrt_y = false;
  const Tensor<S> dd = second_derivative(kind, at, x, y, wrt_y);
  if (!dd.defined()) return;
  tape.accumulate(wrt_y ? y : x, mul(mul(c, bar), dd));
}

template <Scalar S>
Tensor<S> unary_backward(UnaryKind kind, Attr at, const Tensor<S>& bar, const Tensor<S>& x, const Tensor<S>& y) {
  Tape<S>& tape = x.tape();
  Tensor<S> g = tape.make(x.rows(), x.cols(), x.shape());
  // The common activations in one pass; the rest derivative first, then times bar.
  if (kind == UnaryKind::kTanh) {
    out_arr(g) = arr(bar) * (S(1) - arr(y).square());
  } else if (kind == UnaryKind::kSigmoid) {
    out_arr(g) = arr(bar) * arr(y) * (S(1) - arr(y));
  } else {
    unary_derivative<S>(kind, at, arr(x), arr(y), out_arr(g));
    out_arr(g) *= arr(bar);
  }
  if (!tape.records(bar, x, y)) return g;
  return tape.record(g, unary_backward_vjp<S>, "unary_backward", {bar, x, y}, {0.0, at.a, at.b},
                     {static_cast<int>(kind)});
}

template <Scalar S>
void unary_derivative(UnaryKind kind, Attr at, detail::ConstArrayMap<S> x, detail::ConstArrayMap<S> y,
                      detail::ArrayMap<S> d) {
  const S a = static_cast<S>(at.a);
  const S b = static_cast<S>(at.b);
  switch (kind) {
    case UnaryKind::kExp: d = y; break;
    case UnaryKind::kLog: d = x.inverse(); break;
    case UnaryKind::kLog1p: d = (x + S(1)).inverse(); break;
    case UnaryKind::kSqrt: d = S(0.5) / y; break;
    case UnaryKind::kSquare: d = S(2) * x; break;
    case UnaryKind::kPow: d = a * x.pow(a - S(1)); break;
    case UnaryKind::kAbs: d = x.sign(); break;
    case UnaryKind::kSin: d = x.cos(); break;
    case UnaryKind::kCos: d = -x.sin(); break;
    case UnaryKind::kTanh: d = S(1) - y.square(); break;
    case UnaryKind::kSigmoid: d = y * (S(1) - y); break;
    case UnaryKind::kSoftplus:
      d = x.unaryExpr([a, b](S v) { return a * v > b ? S(1) : S(1) / (S(1) + std::exp(-a * v)); });
      break;
    case UnaryKind::kRelu: d = (x > S(0)).template cast<S>(); break;
    case UnaryKind::kElu: d = x.binaryExpr(y, [a](S v, S w) { return v > S(0) ? S(1) : w + a; }); break;
    case UnaryKind::kSilu:
      d = x.unaryExpr([](S v) {
        const S s = S(1) / (S(1) + std::exp(-v));
        return s * (S(1) + v * (S(1) - s));
      });
      break;
    case UnaryKind::kGelu:
      d = x.unaryExpr([](S v) {
        return S(0.5) * (S(1) + std::erf(v * static_cast<S>(std::numbers::sqrt2 / 2))) +
               v * static_cast<S>(kInvSqrt2Pi) * std::exp(S(-0.5) * v * v);
      });
      break;
    case UnaryKind::kClamp: d = ((x > a) && (x < b)).template cast<S>(); break;
  }
}

template <Scalar S>
Tensor<S> unary(UnaryKind kind, const char* op, const Tensor<S>& x, Attr at = {}) {
  detail::require_defined(x, op, "operand");
  Tape<S>& tape = x.tape();
  Tensor<S> y = tape.make(x.rows(), x.cols(), x.shape());
  unary_value<S>(kind, at, arr(x), out_arr(y));
  if (!tape.records(x)) return y;
  return tape.record(y, unary_vjp<S>, op, {x}, {0.0, at.a, at.b}, {static_cast<int>(kind)});
}

}  // namespace

template <Scalar S>
Tensor<S> detail::output_activation_backward(UnaryKind kind, const Tensor<S>& bar, const Tensor<S>& y) {
  // d reads y only, so y also stands in for x (its second derivative goes to y).
  return unary_backward(kind, Attr{}, bar, y, y);
}

template <Scalar S> Tensor<S> exp(const Tensor<S>& x) { return unary(UnaryKind::kExp, "exp", x); }
template <Scalar S> Tensor<S> log(const Tensor<S>& x) { return unary(UnaryKind::kLog, "log", x); }
template <Scalar S> Tensor<S> log1p(const Tensor<S>& x) { return unary(UnaryKind::kLog1p, "log1p", x); }
template <Scalar S> Tensor<S> sqrt(const Tensor<S>& x) { return unary(UnaryKind::kSqrt, "sqrt", x); }
template <Scalar S> Tensor<S> square(const Tensor<S>& x) { return unary(UnaryKind::kSquare, "square", x); }
template <Scalar S> Tensor<S> pow(const Tensor<S>& x, double exponent) {
  return unary(UnaryKind::kPow, "pow", x, {exponent, 0.0});
}
template <Scalar S> Tensor<S> abs(const Tensor<S>& x) { return unary(UnaryKind::kAbs, "abs", x); }
template <Scalar S> Tensor<S> sin(const Tensor<S>& x) { return unary(UnaryKind::kSin, "sin", x); }
template <Scalar S> Tensor<S> cos(const Tensor<S>& x) { return unary(UnaryKind::kCos, "cos", x); }
template <Scalar S> Tensor<S> tanh(const Tensor<S>& x) { return unary(UnaryKind::kTanh, "tanh", x); }
template <Scalar S> Tensor<S> sigmoid(const Tensor<S>& x) { return unary(UnaryKind::kSigmoid, "sigmoid", x); }
template <Scalar S> Tensor<S> softplus(const Tensor<S>& x, double beta, double threshold) {
  if (!(beta > 0)) throw InvalidArgument(fmt::format("softplus: beta must be positive, got {}", beta));
  return unary(UnaryKind::kSoftplus, "softplus", x, {beta, threshold});
}
template <Scalar S> Tensor<S> relu(const Tensor<S>& x) { return unary(UnaryKind::kRelu, "relu", x); }
template <Scalar S> Tensor<S> elu(const Tensor<S>& x, double alpha) {
  return unary(UnaryKind::kElu, "elu", x, {alpha, 0.0});
}
template <Scalar S> Tensor<S> silu(const Tensor<S>& x) { return unary(UnaryKind::kSilu, "silu", x); }
template <Scalar S> Tensor<S> gelu(const Tensor<S>& x) { return unary(UnaryKind::kGelu, "gelu", x); }
template <Scalar S> Tensor<S> clamp(const Tensor<S>& x, double lo, double hi) {
  if (!(lo <= hi)) throw InvalidArgument(fmt::format("clamp: lo {} is above hi {}", lo, hi));
  return unary(UnaryKind::kClamp, "clamp", x, {lo, hi});
}

#define ODEFLOW_INSTANTIATE(S)                                        \
  template Tensor<S> detail::output_activation_backward(detail::UnaryKind, const Tensor<S>&, const Tensor<S>&); \
  template Tensor<S> exp(const Tensor<S>&);                           \
  template Tensor<S> log(const Tensor<S>&);                           \
  template Tensor<S> log1p(const Tensor<S>&);                         \
  template Tensor<S> sqrt(const Tensor<S>&);                          \
  template Tensor<S> square(const Tensor<S>&);                        \
  template Tensor<S> pow(const Tensor<S>&, double);                   \
  template Tensor<S> abs(const Tensor<S>&);                           \
  template Tensor<S> sin(const Tensor<S>&);                           \
  template Tensor<S> cos(const Tensor<S>&);                           \
  template Tensor<S> tanh(const Tensor<S>&);                          \
  template Tensor<S> sigmoid(const Tensor<S>&);                       \
  template Tensor<S> softplus(const Tensor<S>&, double, double);      \
  template Tensor<S> relu(const Tensor<S>&);                          \
  template Tensor<S> elu(const Tensor<S>&, double);                   \
  template Tensor<S> silu(const Tensor<S>&);                          \
  template Tensor<S> gelu(const Tensor<S>&);                          \
  template Tensor<S> clamp(const Tensor<S>&, double, double);
ODEFLOW_INSTANTIATE(float)
ODEFLOW_INSTANTIATE(double)
#undef ODEFLOW_INSTANTIATE

}  // namespace odeflow::ad
