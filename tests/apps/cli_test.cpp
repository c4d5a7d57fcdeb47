// The odeflow command-line tool, run as a subprocess: output formats, plots,
// the demos, and error handling (one-line message, exit status 2).
#include <odeflow/odeflow.hpp>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <sstream>
#include <string>
#include <vector>

namespace odeflow {
namespace {

namespace fs = std::filesystem;

struct RunResult {
  int status = -1;
  std::string out;
  std::string err;
};

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::vector<double> parse_row(const std::string& line) {
  std::vector<double> values;
  std::istringstream in(line);
  for (std::string cell; std::getline(in, cell, ',');) values.push_back(std::stod(cell));
  return values;
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("odeflow_cli_test_" + std::to_string(::getpid()) + "_" + info->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs `odeflow <args>` with stdout and stderr captured.
  RunResult run(const std::string& args) const {
    const fs::path out = dir_ / "stdout.txt", err = dir_ / "stderr.txt";
    const std::string command =
        "'" + std::string(ODEFLOW_CLI) + "' " + args + " >'" + out.string() + "' 2>'" + err.string() + "'";
    const int raw = std::system(command.c_str());
    RunResult result;
    result.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    result.out = read_file(out);
    result.err = read_file(err);
    return result;
  }

  fs::path dir_;
};

TEST_F(Cli, SolveWritesCsvWithHeaderAndOneRowPerOutputTime) {
  const RunResult r = run("solve lorenz -n 11");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 12u);
  EXPECT_EQ(lines[0], "t,x,y,z");
  EXPECT_EQ(parse_row(lines[1]), (std::vector<double>{0, 1, 1, 1}));
  for (std::size_t k = 1; k < lines.size(); ++k) {
    const auto row = parse_row(lines[k]);
    ASSERT_EQ(row.size(), 4u) << lines[k];
    EXPECT_DOUBLE_EQ(row[0], 2.0 * static_cast<double>(k - 1));
  }
}

TEST_F(Cli, SolveCsvMatchesTheLibrarysOdeintExactly) {
  const RunResult r = run("solve vdp --mu 2 --rtol 1e-9 --atol 1e-9 --times 0,0.5,3,7.25");
  ASSERT_EQ(r.status, 0) << r.err;
  Options opt;
  opt.rtol = 1e-9;
  opt.atol = 1e-9;
  Matrix<double> y0(2, 1);
  y0 << 2, 0;
  auto vdp = [](Time, const Matrix<double>& y, Matrix<double>& dy) {
    dy(0) = y(1);
    dy(1) = 2.0 * (1.0 - y(0) * y(0)) * y(1) - y(0);
  };
  const auto sol = odeint(vdp, y0, {0.0, 0.5, 3.0, 7.25}, opt);
  const auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0], "t,x,v");
  for (std::size_t k = 0; k < 4; ++k) {
    const auto row = parse_row(lines[k + 1]);
    EXPECT_EQ(row[1], sol.ys[k](0));  // printed with round-trip precision
    EXPECT_EQ(row[2], sol.ys[k](1));
  }
}

TEST_F(Cli, SolveAgreesWithTheExactSolutionOfExponentialDecay) {
  const RunResult r = run("solve exp_decay --param lambda=0.7 --rtol 1e-11 --atol 1e-13 -n 6");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 7u);
  for (std::size_t k = 1; k < lines.size(); ++k) {
    const auto row = parse_row(lines[k]);
    EXPECT_NEAR(row[1], std::exp(-0.7 * row[0]), 1e-9) << "t = " << row[0];
  }
}

TEST_F(Cli, KeplerOrbitReturnsToItsStartAfterOnePeriod) {
  const double period = 2.0 * std::numbers::pi;
  const RunResult r = run("solve kepler --eccentricity 0.3 --rtol 1e-11 --atol 1e-11 --t1 " +
                          fmt::format("{}", period) + " -n 2");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 3u);
  const auto start = parse_row(lines[1]), end = parse_row(lines[2]);
  EXPECT_DOUBLE_EQ(start[1], 0.7);  // pericentre at 1 - e
  for (std::size_t i = 1; i < start.size(); ++i) EXPECT_NEAR(end[i], start[i], 1e-8) << lines[0];
}

TEST_F(Cli, SolveJsonParsesAndHoldsTrajectoryAndStats) {
  const RunResult r = run("solve vdp --mu 2 --format json -n 5 --rtol 1e-6");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["problem"], "vdp");
  EXPECT_EQ(j["method"], "dopri5");
  EXPECT_EQ(j["rtol"], 1e-6);
  EXPECT_EQ(j["parameters"]["mu"], 2.0);
  ASSERT_EQ(j["times"].size(), 5u);
  ASSERT_EQ(j["states"].size(), 5u);
  EXPECT_EQ(j["states"][0], (std::vector<double>{2.0, 0.0}));
  EXPECT_DOUBLE_EQ(j["times"][4].get<double>(), 20.0);
  const auto& stats = j["stats"];
  EXPECT_GT(stats["nfe"].get<int>(), 0);
  EXPECT_GT(stats["accepted"].get<int>(), 0);
  EXPECT_EQ(stats["steps"].get<int>(), stats["accepted"].get<int>() + stats["rejected"].get<int>());
}

TEST_F(Cli, StatsFlagReportsCountsOnStderr) {
  const RunResult r = run("solve rotation --stats -n 3");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("f evaluations"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("exact solution"), std::string::npos) << r.err;
  EXPECT_EQ(lines_of(r.out).size(), 4u);  // stdout holds only the CSV
}

TEST_F(Cli, PlotWritesAPngFile) {
  const fs::path png = dir_ / "lorenz.png";
  const RunResult r = run("solve lorenz -n 400 -o '" + (dir_ / "lorenz.csv").string() + "' --plot '" +
                          png.string() + "'");
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string bytes = read_file(png);
  ASSERT_GT(bytes.size(), 1000u);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_EQ(lines_of(read_file(dir_ / "lorenz.csv")).size(), 401u);
}

TEST_F(Cli, MethodsListsEveryRegisteredMethod) {
  const RunResult r = run("methods");
  ASSERT_EQ(r.status, 0) << r.err;
  for (const MethodInfo& m : methods()) EXPECT_NE(r.out.find(std::string(m.name)), std::string::npos) << m.name;
}

TEST_F(Cli, ClassicDemoWritesPlotsAndASummary) {
  const fs::path out = dir_ / "demo";
  const RunResult r = run("demo classic --out '" + out.string() + "'");
  ASSERT_EQ(r.status, 0) << r.err;
  for (const char* png : {"lorenz.png", "vdp.png", "kepler.png"})
    EXPECT_GT(fs::file_size(out / png), 1000u) << png;
  const auto summary = nlohmann::json::parse(read_file(out / "summary.json"));
  ASSERT_EQ(summary["cases"].size(), 3u);
  // Kepler is checked against its exact solution: dopri5 at 1e-8 must be close.
  EXPECT_LT(summary["cases"][2]["max_abs_error"].get<double>(), 1e-4);
  EXPECT_EQ(summary["method_comparison"]["rows"].size(), methods().size());
}

TEST_F(Cli, SpiralDemoTrainsAndWritesPlotsSummaryAndCheckpoint) {
  const fs::path out = dir_ / "spiral";
  const RunResult r = run("demo spiral --iterations 6 --test-freq 3 --batch-size 5 --quiet --out '" + out.string() + "'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "");  // --quiet
  EXPECT_EQ(r.err, "");
  for (const char* png : {"trajectories.png", "phase.png", "vector_field.png", "loss.png"})
    EXPECT_EQ(read_file(out / png).substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8)) << png;
  EXPECT_GT(fs::file_size(out / "checkpoint.safetensors"), 1000u);
  const auto summary = nlohmann::json::parse(read_file(out / "summary.json"));
  EXPECT_EQ(summary["demo"], "spiral");
  EXPECT_EQ(summary["settings"]["gradient"], "direct");
  EXPECT_EQ(summary["settings"]["batch_size"], 5);
  EXPECT_EQ(summary["final"]["iteration"], 6);
  EXPECT_EQ(summary["iterations_run"], 6);
  EXPECT_GT(summary["nfe"]["forward_mean"].get<double>(), 0.0);
  EXPECT_GT(summary["nfe"]["backward_mean"].get<double>(), 0.0);
  EXPECT_GT(summary["timing"]["iteration_median_seconds"].get<double>(), 0.0);
  ASSERT_EQ(summary["history"].size(), 3u);  // iterations 0, 3, 6
  EXPECT_EQ(summary["history"][2]["full_trajectory_loss"], summary["final"]["full_trajectory_loss"]);
}

TEST_F(Cli, SpiralDemoResumedContinuesExactlyAsAnUninterruptedRun) {
  const std::string common = " --gradient adjoint --batch-size 4 --test-freq 2 --quiet --out '";
  const fs::path straight = dir_ / "straight", split = dir_ / "split";
  ASSERT_EQ(run("demo spiral --iterations 6" + common + straight.string() + "'").status, 0);
  ASSERT_EQ(run("demo spiral --iterations 2" + common + split.string() + "'").status, 0);
  const RunResult r = run("demo spiral --iterations 6 --resume" + common + split.string() + "'");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto a = nlohmann::json::parse(read_file(straight / "summary.json"));
  const auto b = nlohmann::json::parse(read_file(split / "summary.json"));
  EXPECT_EQ(b["resumed_from"], 2);
  EXPECT_EQ(b["iterations_run"], 4);
  EXPECT_EQ(b["final"]["full_trajectory_loss"], a["final"]["full_trajectory_loss"]);  // bit-identical
  EXPECT_EQ(b["history"], a["history"]);
}

void expect_one_line_error(const RunResult& r, const std::string& needle) {
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.out, "");
  const auto lines = lines_of(r.err);
  ASSERT_EQ(lines.size(), 1u) << r.err;
  EXPECT_EQ(lines[0].rfind("odeflow: error: ", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find(needle), std::string::npos) << lines[0];
}

TEST_F(Cli, UnknownMethodExitsWithStatus2NamingTheMethod) {
  expect_one_line_error(run("solve lorenz --method no_such_method"), "no_such_method");
}

TEST_F(Cli, NegativeRtolExitsWithStatus2) { expect_one_line_error(run("solve lorenz --rtol -1"), "rtol"); }

TEST_F(Cli, UnknownProblemExitsWithStatus2) {
  expect_one_line_error(run("solve no_such_problem"), "no_such_problem");
}

TEST_F(Cli, WrongSizedY0ExitsWithStatus2) { expect_one_line_error(run("solve lorenz --y0 1,2"), "--y0"); }

TEST_F(Cli, UnknownOptionExitsWithStatus2) { expect_one_line_error(run("solve lorenz --bogus"), "--bogus"); }

TEST_F(Cli, UnwritablePlotPathExitsWithStatus2BeforeAnyOutput) {
  expect_one_line_error(run("solve lorenz --plot /nonexistent_dir/plot.png"), "/nonexistent_dir/plot.png");
}

TEST_F(Cli, SolverFailureExitsWithStatus2) {
  expect_one_line_error(run("solve lorenz --max-steps 10"), "max_num_steps");
}

TEST_F(Cli, SpiralDemoRejectsBadOptionsWithOneLine) {
  expect_one_line_error(run("demo spiral --gradient sideways"), "--gradient 'sideways'");
  expect_one_line_error(run("demo spiral --batch-size 0"), "--batch-size must be in [1, 990]");
  expect_one_line_error(run("demo spiral --iterations 0"), "--iterations must be at least 1");
  expect_one_line_error(run("demo spiral --float --double"), "--double");
  expect_one_line_error(run("demo spiral --method no_such_method"), "no_such_method");
  expect_one_line_error(run("demo spiral --resume --out '" + (dir_ / "empty").string() + "'"), "no checkpoint");
}

}  // namespace
}  // namespace odeflow
