// `odeflow demo [NAME] [--out DIR]`: run a demo (default: classic), writing
// plots and summary.json into DIR (default ./out).
#include "commands.hpp"
#include "demos.hpp"

#include <odeflow/core/error.hpp>

#include <fmt/format.h>

#include <array>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace odeflow::cli {
namespace {

struct DemoInfo {
  std::string_view name;
  std::string_view description;
  void (*run)(const DemoContext&);
};

constexpr std::array kDemos{
    DemoInfo{"classic", "Lorenz, Van der Pol and Kepler with dopri5; errors, plots, method comparison",
             run_classic_demo},
};

struct DemoArgs {
  std::string name = "classic";
  std::string out = "out";
};

void run_demo(const DemoArgs& args) {
  for (const DemoInfo& demo : kDemos) {
    if (demo.name != args.name) continue;
    std::error_code ec;
    std::filesystem::create_directories(args.out, ec);
    if (ec) throw InvalidArgument(fmt::format("cannot create output folder '{}': {}", args.out, ec.message()));
    demo.run({args.out});
    return;
  }
  std::string names;
  for (const DemoInfo& d : kDemos) names += fmt::format("{}{}", names.empty() ? "" : ", ", d.name);
  throw InvalidArgument(fmt::format("unknown demo '{}'; known demos: {}", args.name, names));
}

std::string demo_help() {
  std::string text = "Demos:\n";
  for (const DemoInfo& d : kDemos) text += fmt::format("  {:<10} {}\n", d.name, d.description);
  return text;
}

}  // namespace

void add_demo_command(CLI::App& app) {
  auto args = std::make_shared<DemoArgs>();
  CLI::App* cmd = app.add_subcommand("demo", "Run a demo: solves, progress, plots and a JSON summary");
  cmd->footer(demo_help());
  cmd->add_option("name", args->name, "which demo (see below)")->capture_default_str();
  cmd->add_option("-o,--out", args->out, "output folder for plots and summary.json")->capture_default_str();
  cmd->callback([args] { run_demo(*args); });
}

}  // namespace odeflow::cli
