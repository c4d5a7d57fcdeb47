// `odeflow demo NAME [options]`: run a demo, writing plots and summary.json
// into its output folder. `demo spiral` trains torchdiffeq's ode_demo (what
// `make demo` runs); `demo classic` solves classical problems.
#include "commands.hpp"
#include "demos.hpp"

#include <odeflow/core/error.hpp>

#include <fmt/format.h>

#include <memory>
#include <string>
#include <system_error>

namespace odeflow::cli {

std::filesystem::path make_out_dir(const std::string& out) {
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec) throw InvalidArgument(fmt::format("cannot create output folder '{}': {}", out, ec.message()));
  return out;
}

void add_demo_command(CLI::App& app) {
  CLI::App* demo = app.add_subcommand("demo", "Run a demo: progress, plots and a JSON summary in an output folder");
  demo->require_subcommand(1);
  add_spiral_demo(*demo);

  auto out = std::make_shared<std::string>("out");
  CLI::App* classic = demo->add_subcommand(
      "classic", "Lorenz, Van der Pol and Kepler with dopri5; errors, plots, method comparison");
  classic->add_option("-o,--out", *out, "output folder for plots and summary.json")->capture_default_str();
  classic->callback([out] { run_classic_demo({make_out_dir(*out)}); });
}

}  // namespace odeflow::cli
