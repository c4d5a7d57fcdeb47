// The subcommands of the odeflow tool, one per file. Each registers itself on
// the application; its callback does the work and throws on error (main turns
// every error into a one-line message and exit status 2).
#pragma once

#include <CLI/CLI.hpp>

namespace odeflow::cli {

void add_solve_command(CLI::App& app);    // solve_command.cpp
void add_methods_command(CLI::App& app);  // methods_command.cpp
void add_demo_command(CLI::App& app);     // demo_command.cpp

}  // namespace odeflow::cli
