// Adams multistep methods: their contracts and their coefficients.
//
// Three methods, chosen with Options::method (all run through odeint):
//
// - "explicit_adams": Adams–Bashforth of order p = Options::max_order
//   (default 4, 1..12) on the fixed grid of the fixed-step Runge–Kutta
//   methods (step_size, grid_points, or ts itself). One f evaluation per step.
// - "implicit_adams": Adams–Bashforth–Moulton PECE of order p: predict with
//   Adams–Bashforth of order p, evaluate, correct once with Adams–Moulton of
//   order p, evaluate (two f evaluations per step; torchdiffeq instead iterates
//   the corrector up to 4 times, which changes nothing in the order and
//   costs more evaluations).
//   Both fixed-step methods start with a collocation starter: the first p−1
//   grid values come from the p-node collocation method on the grid points
//   t0..t_{p−1}, solved by p fixed-point sweeps (about (p+1)(p−1) evaluations
//   once). Its local errors are O(h^{p+1}), so the global order is p for every
//   p. (Ramping the order up from Euler leaves Euler's O(h²) first-step error
//   in the solution; torchdiffeq's RK4 starter caps the order at 5.)
//   Uniform steps use the classical coefficients below; where the grid is not
//   uniform (the short last step of step_size, an irregular ts), the
//   coefficients are the quadrature weights of the interpolating polynomial
//   on the actual grid points, so the order holds on any grid. Outputs between
//   grid points are cubic Hermite (f is known at every grid point), or linear
//   with Options::interpolation = kLinear.
// - "adams": adaptive variable-step, variable-order Adams PECE, orders 1 to
//   Options::max_order (default 12), in the modified-divided-difference form
//   of Krogh and Shampine & Gordon's DE/STEP (Hairer, Nørsett & Wanner I,
//   Sec. III.5 and III.7). Each step predicts with the explicit Adams formula
//   of order k, evaluates, corrects with the implicit formula of order k
//   (no local extrapolation: the propagated value is the one whose error is
//   estimated) and evaluates again. The local error estimate is
//   h·(g_k − g_{k−1})·‖Φ_k‖, a multiple of the predictor–corrector difference,
//   in the scaled norm of the Runge–Kutta methods (atol + rtol·|y_n|,
//   Options::norm); a step is accepted when it is ≤ 1, or when |dt| ≤ min_step.
//   Order and step follow DE/STEP: a start-up phase raises the order and
//   doubles the step until the first order drop or failure; then the order
//   moves to k−1 or k+1 when the estimated errors at those orders are smaller
//   (k+1 only after k+1 steps of one size). With err the estimate at the new
//   order (1 = the tolerance), h doubles when 2^{k+1}·err ≤ 1/8, shrinks by
//   max(0.5, min(0.9, (0.125/err)^{1/(k+1)})) when err > 1/8 (DE/STEP aims at
//   1/2; 1/8 keeps the global error near the tolerance), and otherwise
//   stays constant (which keeps the coefficients those of constant steps).
//   Rejected steps halve (the third consecutive rejection drops to order 1;
//   later ones may shrink more). The first step is Options::first_step or
//   Hairer's initial step for an order-1 method. Outputs at ts (the last one
//   included) interpolate the Adams polynomial of the step that covers them;
//   steps are never shortened to hit an output, except at step_t and jump_t
//   (after a jump the method restarts at order 1). step_size and grid_points
//   are rejected (InvalidArgument): use the fixed-step methods.
//
// Failures are those of the Runge–Kutta loops, with messages naming t and dt:
// NonFiniteError (f(t0, y0) not finite; a non-finite state after a fixed step;
// in "adams", non-finite values in a step of |dt| ≤ min_step, while larger
// steps with non-finite values are rejected and shrunk), StepSizeUnderflow
// (t + dt == t), MaxStepsExceeded (more than max_num_steps attempted steps,
// or a fixed grid longer than that).
#pragma once

#include <span>

namespace odeflow {

// Highest order of every Adams method.
inline constexpr int kAdamsMaxOrder = 12;

// Adams–Bashforth of order k (1..13) with a constant step h:
// y_{n+1} = y_n + h·Σ_{j<k} b[j]·f_{n−j}. Computed once from exact rationals.
std::span<const double> adams_bashforth_coefficients(int order);

// Adams–Moulton of order k (1..13) with a constant step h:
// y_{n+1} = y_n + h·Σ_{j<k} m[j]·f_{n+1−j}.
std::span<const double> adams_moulton_coefficients(int order);

// The backward-difference coefficients (j = 0..13): Adams–Bashforth is
// y_{n+1} = y_n + h·Σ γ_j ∇^j f_n, Adams–Moulton y_{n+1} = y_n + h·Σ γ*_j ∇^j f_{n+1};
// γ*_k is the error constant of Adams–Moulton of order k.
double adams_bashforth_gamma(int j);
double adams_moulton_gamma(int j);

// Interpolatory quadrature on arbitrary distinct nodes (at most 13):
// w[i] such that (1/(b−a))·∫_a^b p(t) dt = Σ_i w[i]·p(nodes[i]) for every
// polynomial p of degree < nodes.size(). w.size() must equal nodes.size().
void interpolatory_weights(std::span<const double> nodes, double a, double b, std::span<double> w);

}  // namespace odeflow
