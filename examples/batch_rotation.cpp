// A batch of initial states solved together: the state matrix has one column
// per sample (features x batch). Rotation at unit speed has the exact solution
// y(t) = R(t) y0, which the program checks; it exits 1 if the error is large.
#include <odeflow/odeflow.hpp>

#include <cmath>
#include <iostream>

int main() {
  // f(t, y) returning dy/dt; works on every column at once.
  auto rotation = [](double /*t*/, const Eigen::MatrixXd& y) -> Eigen::MatrixXd {
    Eigen::Matrix2d a;
    a << 0.0, -1.0, 1.0, 0.0;
    return a * y;
  };
  Eigen::MatrixXd y0(2, 4);  // 4 samples
  y0 << 1.0, 0.0, -2.0, 0.5,
        0.0, 1.0, 1.0, -3.0;

  odeflow::Options options;
  options.method = "rk4";  // fixed step: any name from odeflow::methods()
  options.step_size = 0.01;
  const double t1 = 3.0;
  const auto sol = odeflow::odeint(rotation, y0, {0.0, t1}, options);

  Eigen::Matrix2d r;
  r << std::cos(t1), -std::sin(t1), std::sin(t1), std::cos(t1);
  const double error = (sol.ys[1] - r * y0).cwiseAbs().maxCoeff();
  std::cout << "y(3) =\n" << sol.ys[1] << "\nmax |error| = " << error << " with " << sol.stats.nfe
            << " f evaluations\n";
  return error < 1e-7 ? 0 : 1;
}
