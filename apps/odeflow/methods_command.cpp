// `odeflow methods`: the solver registry as a table (plain text or Markdown).
#include "commands.hpp"

#include <odeflow/solve/registry.hpp>

#include <fmt/format.h>

#include <memory>
#include <string>

namespace odeflow::cli {
namespace {

std::string_view kind_name(MethodKind kind) {
  switch (kind) {
    case MethodKind::kExplicitRk:
      return "explicit RK";
    case MethodKind::kAdamsBashforth:
      return "Adams-Bashforth";
    case MethodKind::kAdamsMoulton:
      return "Adams-Moulton";
    case MethodKind::kAdamsVariable:
      return "variable Adams";
  }
  return "?";
}

// Dense output: the interpolant's kind and order.
std::string dense_name(const MethodInfo& m) {
  if (m.kind == MethodKind::kAdamsVariable) return "Adams polynomial";
  if (m.tableau == nullptr) return "Hermite (3)";  // fixed-step Adams: cubic Hermite between grid points
  switch (m.tableau->dense) {
    case DenseKind::kHermite:
      return fmt::format("Hermite ({})", m.tableau->dense_order());
    case DenseKind::kQuartic:
      return fmt::format("quartic ({})", m.tableau->dense_order());
    case DenseKind::kPolynomial:
      return fmt::format("own ({})", m.tableau->dense_order());
  }
  return "-";
}

void print_table(bool markdown) {
  if (markdown) {
    fmt::print("| method | kind | adaptive | order | dense output (order) | description |\n");
    fmt::print("|---|---|---|---|---|---|\n");
    for (const MethodInfo& m : methods())
      fmt::print("| `{}` | {} | {} | {} | {} | {} |\n", m.name, kind_name(m.kind), m.adaptive ? "yes" : "no",
                 m.order, dense_name(m), m.description);
    return;
  }
  fmt::print("{:<15} {:<16} {:<9} {:<6} {:<17} {}\n", "name", "kind", "adaptive", "order", "dense output",
             "description");
  for (const MethodInfo& m : methods())
    fmt::print("{:<15} {:<16} {:<9} {:<6} {:<17} {}\n", m.name, kind_name(m.kind), m.adaptive ? "yes" : "no",
               m.order, dense_name(m), m.description);
}

}  // namespace

void add_methods_command(CLI::App& app) {
  auto markdown = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("methods", "List the solvers (name, kind, adaptive, order, description)");
  cmd->add_flag("--markdown", *markdown, "print a Markdown table (as in the README)");
  cmd->callback([markdown] { print_table(*markdown); });
}

}  // namespace odeflow::cli
