// Solves the Lorenz system with dopri5 and prints the state at a few times and
// the solver statistics.
#include <odeflow/odeflow.hpp>

#include <iostream>

int main() {
  // dy/dt = f(t, y), written in place into dy (pre-sized to y's shape).
  auto lorenz = [](double /*t*/, const Eigen::MatrixXd& y, Eigen::MatrixXd& dy) {
    dy(0) = 10.0 * (y(1) - y(0));
    dy(1) = y(0) * (28.0 - y(2)) - y(1);
    dy(2) = y(0) * y(1) - (8.0 / 3.0) * y(2);
  };
  Eigen::MatrixXd y0(3, 1);  // one state (column) with three components
  y0 << 1.0, 1.0, 1.0;

  odeflow::Options options;  // dopri5 by default
  options.rtol = 1e-8;
  options.atol = 1e-8;
  const auto sol = odeflow::odeint(lorenz, y0, {0.0, 5.0, 10.0, 20.0}, options);

  for (std::size_t k = 0; k < sol.ts.size(); ++k)
    std::cout << "y(" << sol.ts[k] << ") = " << sol.ys[k].transpose() << '\n';
  std::cout << "steps: " << sol.stats.accepted << " accepted, " << sol.stats.rejected << " rejected; "
            << "f evaluations: " << sol.stats.nfe << '\n';
}
