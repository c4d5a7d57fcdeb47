// odeflow: command-line front end of the odeflow library.
//
// Exit status: 0 on success, 2 on any error (bad usage, bad option values,
// solver failures, unwritable files), with a one-line message on stderr.
#include "commands.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <exception>

int main(int argc, char** argv) {
  CLI::App app{"odeflow: ODE solvers and neural ODEs in C++", "odeflow"};
  app.set_version_flag("--version", "odeflow " ODEFLOW_VERSION);
  app.require_subcommand(1);
  odeflow::cli::add_solve_command(app);
  odeflow::cli::add_methods_command(app);
  odeflow::cli::add_demo_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);  // --help, --version
    fmt::print(stderr, "odeflow: error: {} (see odeflow --help)\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    fmt::print(stderr, "odeflow: error: {}\n", e.what());
    return 2;
  }
  return 0;
}
