// SUNDIALS CVODE baseline: Adams–Moulton + fixed-point iteration.
#include "baselines.hpp"

#include <cvode/cvode.h>
#include <nvector/nvector_serial.h>
#include <sunnonlinsol/sunnonlinsol_fixedpoint.h>

#include <stdexcept>
#include <string>

namespace odeflow::bench {
namespace {

template <class P>
int rhs(sunrealtype /*t*/, N_Vector y, N_Vector dy, void* /*user_data*/) {
  P::rhs(N_VGetArrayPointer(y), N_VGetArrayPointer(dy));
  return 0;
}

void check(int flag, const char* what) {
  if (flag < 0) throw std::runtime_error(std::string(what) + " failed with flag " + std::to_string(flag));
}

}  // namespace

template <class P>
SolveResult cvode_adams(double rtol, double atol) {
  SUNContext ctx = nullptr;
  check(SUNContext_Create(nullptr, &ctx), "SUNContext_Create");
  N_Vector y = N_VNew_Serial(P::kDim, ctx);
  for (int i = 0; i < P::kDim; ++i) NV_Ith_S(y, i) = P::kY0[static_cast<std::size_t>(i)];
  void* mem = CVodeCreate(CV_ADAMS, ctx);
  check(CVodeInit(mem, rhs<P>, 0.0, y), "CVodeInit");
  check(CVodeSStolerances(mem, rtol, atol), "CVodeSStolerances");
  check(CVodeSetMaxNumSteps(mem, 10'000'000), "CVodeSetMaxNumSteps");
  check(CVodeSetStopTime(mem, P::kT1), "CVodeSetStopTime");
  SUNNonlinearSolver nls = SUNNonlinSol_FixedPoint(y, 0, ctx);
  check(CVodeSetNonlinearSolver(mem, nls), "CVodeSetNonlinearSolver");

  sunrealtype t = 0.0;
  check(CVode(mem, P::kT1, y, &t, CV_NORMAL), "CVode");
  long steps = 0, nfe = 0, error_fails = 0, convergence_fails = 0;
  CVodeGetNumSteps(mem, &steps);
  CVodeGetNumRhsEvals(mem, &nfe);
  CVodeGetNumErrTestFails(mem, &error_fails);
  CVodeGetNumNonlinSolvConvFails(mem, &convergence_fails);
  SolveResult r;
  r.nfe = nfe;
  r.accepted = steps;
  r.rejected = error_fails + convergence_fails;
  for (int i = 0; i < P::kDim; ++i) r.y[static_cast<std::size_t>(i)] = NV_Ith_S(y, i);

  CVodeFree(&mem);
  SUNNonlinSolFree(nls);
  N_VDestroy(y);
  SUNContext_Free(&ctx);
  return r;
}

template SolveResult cvode_adams<Lorenz>(double, double);
template SolveResult cvode_adams<VanDerPol>(double, double);
template SolveResult cvode_adams<Kepler>(double, double);

}  // namespace odeflow::bench
