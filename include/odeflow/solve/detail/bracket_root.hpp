// A sign change of g located inside a bracket (internal; the root search of
// odeint_event, solve/event.hpp).
//
// Anderson–Björck regula falsi (Anderson & Björck, BIT 13, 1973; Galdino's
// survey of the Illinois family, 2011): a secant step between the bracket
// ends, and when the same end is kept twice in a row its g is scaled by
// m = 1 − g_new/g_old (½ when m ≤ 0), which removes the one-sided stagnation
// of plain regula falsi and gives superlinear convergence (order ≈ 1.7) on
// smooth g. Safeguards that make it never worse than bisection by more than a
// factor of two: a secant point outside the bracket, or closer than tol/2 to
// an end, is moved inside; when two interpolation steps have not halved the
// bracket, the next step bisects.
#pragma once

#include <odeflow/core/function_ref.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

namespace odeflow::detail {

struct BracketRoot {
  double before = 0;  // end with g of the sign before the crossing
  double after = 0;   // end where g is zero or has the other sign
  double g_after = 0;
  int iterations = 0;  // evaluations of g
};

// Requires g(before)·g(after) < 0 (or g_after == 0, returned at once). Ends
// when |after − before| ≤ tol or g hits zero exactly (then before = after).
// tol > 0; `before` may be larger than `after`.
inline BracketRoot bracket_root(FunctionRef<double(double)> g, double before, double g_before, double after,
                                double g_after, double tol) {
  BracketRoot r{before, after, g_after, 0};
  if (g_after == 0.0) {
    r.before = after;
    return r;
  }
  int kept = 0;               // +1: `before` kept last step, −1: `after` kept
  double width_check = std::abs(after - before);  // bracket width two steps ago
  int since_check = 0;
  bool bisect = false;
  // Every step shrinks the bracket by at least tol/2 and every third at least
  // halves it, so this bound is never reached for tol ≥ 1 ulp of t; it only
  // guards against a g that is not a function of t.
  constexpr int kMaxIterations = 4000;
  while (std::abs(r.after - r.before) > tol && r.iterations < kMaxIterations) {
    const double lo = std::min(r.before, r.after), hi = std::max(r.before, r.after);
    double c = 0.5 * (r.before + r.after);
    if (!bisect) {
      const double secant = r.after - g_after * (r.after - r.before) / (g_after - g_before);
      if (std::isfinite(secant)) c = std::clamp(secant, lo + 0.5 * tol, hi - 0.5 * tol);
    }
    const double g_c = g(c);
    ++r.iterations;
    if (g_c == 0.0) {
      r.before = r.after = c;
      r.g_after = 0.0;
      return r;
    }
    if ((g_c > 0.0) == (g_before > 0.0)) {
      // c replaces `before`; `after` is kept: scale its g if kept twice.
      if (kept == -1) {
        const double m = 1.0 - g_c / g_before;
        g_after *= m > 0.0 ? m : 0.5;
      }
      r.before = c;
      g_before = g_c;
      kept = -1;
    } else {
      if (kept == 1) {
        const double m = 1.0 - g_c / g_after;
        g_before *= m > 0.0 ? m : 0.5;
      }
      r.after = c;
      g_after = g_c;
      r.g_after = g_c;
      kept = 1;
    }
    bisect = false;
    if (++since_check == 2) {
      const double width = std::abs(r.after - r.before);
      bisect = width > 0.5 * width_check;
      width_check = width;
      since_check = 0;
    }
  }
  return r;
}

}  // namespace odeflow::detail
