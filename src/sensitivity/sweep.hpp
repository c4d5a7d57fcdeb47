// The reverse sweep through recorded steps (internal), shared by kDirect
// and kCheckpoint's backward passes; defined in sweep.cpp.
#pragma once

#include "records.hpp"

#include <odeflow/ad/tape.hpp>
#include <odeflow/sensitivity/odeint.hpp>
#include <odeflow/solve/dense_output.hpp>
#include <odeflow/solve/detail/dense_kernels.hpp>
#include <odeflow/solve/rk_step.hpp>
#include <odeflow/solve/tableau.hpp>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

namespace odeflow::detail {

// Linear weights of one dense output in terms of (y0, y1, k_0..k_{s+e-1}, f1):
// the interpolants are linear in these, so evaluating one on unit vectors
// gives them exactly as the forward pass combined them.
struct DenseWeights {
  double y0 = 0, y1 = 0, f1 = 0;
  double k[kMaxDenseStages] = {};
};

class DenseBasis {
 public:
  explicit DenseBasis(const ButcherTableau& tableau);

  DenseWeights operator()(Time t0, Time t1, Time t, bool linear);

 private:
  const ButcherTableau& tableau_;
  int total_;
  Eigen::Index basis_;
  Matrix<double> y0_, y1_, f1_, out_;
  RkWork<double> work_;
  DenseStep<double> dense_;
};

// The reverse sweep through recorded steps (kDirect, and kCheckpoint one
// segment at a time). Cotangents in the loop's time variable.
template <Scalar S>
class Sweep {
 public:
  Sweep(const OdeintRecord<S>& rec, ad::Tape<S>& tape, Direction dir, BackwardStats& stats)
      : rec_(rec), tape_(tape), dir_(dir), stats_(stats), tableau_(*rec.tableau), rows_(rec.y0.rows()),
        cols_(rec.y0.cols()), basis_(*rec.tableau), outputs_(rec.outputs()) {
    const int total = tableau_.stages() + tableau_.extra_stages();
    kbar_.assign(static_cast<std::size_t>(total), Matrix<S>(rows_, cols_));
    stage_ = Matrix<S>(rows_, cols_);
    stage_bar_ = Matrix<S>(rows_, cols_);
    pending_ = Matrix<S>::Zero(rows_, cols_);
    y0bar_ = Matrix<S>(rows_, cols_);
    f1bar_ = Matrix<S>(rows_, cols_);
  }

  // Graphs of the forward evaluations to use instead of evaluating f again.
  void use_graphs(GraphLog<S>* graphs) { graphs_ = graphs; }
  // Whether forward evaluation `id` (−1: none) still has its graph.
  bool kept(std::int32_t id) const { return graphs_ != nullptr && id >= 0 && id < released_; }

  // Cotangent of the loop's f (g(s, y) = −f(−s, y) when reversed) at (s, y).
  void g_vjp(Time s, const Eigen::Ref<const Matrix<S>>& y, const Matrix<S>& bar, Matrix<S>& y_bar);

  // The same through the graph of forward evaluation `id` (−1: none, then as
  // above), which is released after: the sweep meets the evaluations in
  // reverse order, so the tape is rewound to before it.
  // y is only read when the graph is not kept.
  void g_vjp(std::int32_t id, Time s, const Eigen::Ref<const Matrix<S>>& y, const Matrix<S>& bar, Matrix<S>& y_bar);

  // Step `index` given its state y0, stages k (s + extras when used), its end
  // y1, and the output cotangents `g` (indexed like rec.outputs). ybar: in,
  // the cotangent of y1; out, that of y0.
  // evals: the forward evaluations of the stages (StageRecord::evals), or null.
  void step(std::size_t index, const StepMeta& m, const S* y0, const S* const* k, const S* y1, const Matrix<S>& y1m,
            std::span<const Matrix<S>> g, Matrix<S>& ybar, const std::int32_t* evals = nullptr);

  void start(std::size_t outputs) { next_output_ = outputs; }

 private:
  const OdeintRecord<S>& rec_;
  ad::Tape<S>& tape_;
  Direction dir_;
  BackwardStats& stats_;
  const ButcherTableau& tableau_;
  Eigen::Index rows_, cols_;
  DenseBasis basis_;
  std::span<const OutputMeta> outputs_;
  std::vector<Matrix<S>> kbar_;
  Matrix<S> stage_, stage_bar_, pending_, y0bar_, f1bar_, neg_bar_;
  bool pending_live_ = false;
  GraphLog<S>* graphs_ = nullptr;
  std::int32_t released_ = std::numeric_limits<std::int32_t>::max();  // evaluations from here on are gone
  std::size_t next_output_ = 0;
};

extern template class Sweep<float>;
extern template class Sweep<double>;

}  // namespace odeflow::detail
