// The demos behind `odeflow demo NAME`, one file each. A demo is a subcommand
// of `demo` with its own options; it writes its plots and a JSON summary
// into an output folder and reports progress. Adding one is a file plus one
// line in demo_command.cpp.
#pragma once

#include <CLI/CLI.hpp>

#include <filesystem>
#include <string>

namespace odeflow::cli {

struct DemoContext {
  std::filesystem::path out_dir;  // exists when the demo runs
};

// Creates the output folder `out` (with its parents); throws InvalidArgument
// naming it when that fails.
std::filesystem::path make_out_dir(const std::string& out);  // demo_command.cpp

// Classical problems (Lorenz, Van der Pol, Kepler) solved with dopri5, errors
// against a reference, plots, and a comparison of every registered method.
void run_classic_demo(const DemoContext& context);  // classic_demo.cpp

// torchdiffeq's ode_demo: the spiral, trained (`demo spiral`).
void add_spiral_demo(CLI::App& demo);  // spiral_demo.cpp

}  // namespace odeflow::cli
