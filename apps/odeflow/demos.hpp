// The demos behind `odeflow demo [NAME]`. A demo writes its plots and a JSON
// summary into an output folder and reports progress on stdout. Adding one is
// a file with its run function plus one line in demo_command.cpp.
#pragma once

#include <filesystem>

namespace odeflow::cli {

struct DemoContext {
  std::filesystem::path out_dir;  // exists when the demo runs
};

// Classical problems (Lorenz, Van der Pol, Kepler) solved with dopri5, errors
// against a reference, plots, and a comparison of every registered method.
void run_classic_demo(const DemoContext& context);  // classic_demo.cpp

}  // namespace odeflow::cli
