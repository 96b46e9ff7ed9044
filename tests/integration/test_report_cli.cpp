// The sweep's and profile's reports as a user reads them: --out writes five files that parse
// (CSV columns, JSON, well-formed SVG), the explanation is built from the run's own figures,
// peers are run and parsed (or skipped with a note), and profile's trace nests correctly and
// covers each step. Runs the built binary on tiny synthetic data with a given roofline, so no
// test measures the machine; timings are never asserted.
//   build/tests/batchscope_tests --gtest_filter='ReportCli.*'
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "support/cli_run.h"
#include "support/synthetic.h"
#include "support/xml_check.h"

namespace batchscope {
namespace {

using testing::check_xml;
using testing::expect_cli_error;
using testing::RunResult;
using testing::run_cli;
using testing::slurp;
using testing::TempDir;

std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::string cell;
    std::istringstream ls(line);
    while (std::getline(ls, cell, ',')) cells.push_back(cell);
    if (!line.empty() && line.back() == ',') cells.push_back("");
    rows.push_back(cells);
  }
  return rows;
}

class ReportCli : public ::testing::Test {
 protected:
  void SetUp() override { testing::write_synthetic_mnist_dir(tmp.path(), 300, 200, 28); }
  // A given roofline: the reports' arithmetic is checked, not the machine.
  std::string data(const std::string& model = "tiny", const std::string& peak = "100:10") const {
    return " --data " + tmp.path().string() + " --model " + model + " --threads 1 --peak " + peak;
  }
  TempDir tmp;
};

TEST_F(ReportCli, SweepOutWritesFilesThatParse) {
  const std::string out = tmp.file("report");
  const RunResult r = run_cli(tmp, "sweep" + data() + " --batch-sizes 1,4,16,64 --images 64 --quiet --out " + out);
  ASSERT_EQ(r.code, 0) << r.err;

  const auto csv = parse_csv(slurp(out + "/sweep.csv"));
  ASSERT_EQ(csv.size(), 5u);  // header and four batch sizes
  ASSERT_EQ(csv[0].size(), 19u);
  EXPECT_EQ(csv[0][0], "source");
  EXPECT_EQ(csv[0][1], "batch_size");
  const std::vector<int> batches = {1, 4, 16, 64};
  for (size_t i = 1; i < csv.size(); ++i) {
    ASSERT_EQ(csv[i].size(), csv[0].size()) << "row " << i;
    EXPECT_EQ(csv[i][0], "batchscope");
    EXPECT_EQ(std::stoi(csv[i][1]), batches[i - 1]);
    EXPECT_GT(std::stod(csv[i][3]), 0.0);  // ms per iteration
    // The phase shares (data, forward, backward, update, other, and comm, 0 on one rank)
    // add up to the step.
    double sum = std::stod(csv[i][16]);
    for (int c = 9; c <= 13; ++c) sum += std::stod(csv[i][static_cast<size_t>(c)]);
    EXPECT_NEAR(sum, 100.0, 0.01) << "row " << i;
    EXPECT_EQ(csv[i][16], "0.000");
    EXPECT_EQ(csv[i][17], "1");  // one rank
  }

  const auto j = nlohmann::json::parse(slurp(out + "/sweep.json"));
  ASSERT_EQ(j["results"].size(), 4u);
  EXPECT_EQ(j["peak"]["gflops_all"], 100.0);
  EXPECT_EQ(j["peak"]["origin"], "given with --peak");
  for (const auto& row : j["results"]) {
    EXPECT_NEAR(row["percent_of_peak"].get<double>(), row["gflops"].get<double>(), 1e-9);  // peak 100
    EXPECT_EQ(row["layers"].size(), 5u);  // tiny: conv, relu, pool, flatten, dense
    EXPECT_GT(row["phase_ms"]["step"].get<double>(), 0.0);
  }
  ASSERT_TRUE(j.contains("cost_model"));
  const auto& cm = j["cost_model"];
  // The floors: N*b, and N x FLOPs per image at the given 100 GFLOP/s.
  EXPECT_NEAR(cm["floor_seconds_per_epoch"].get<double>(), 300 * cm["b_seconds_per_image"].get<double>(), 1e-9);
  EXPECT_NEAR(cm["compute_bound_seconds_per_epoch"].get<double>(),
              300 * j["mflop_trained"].get<double>() * 1e6 / 100e9, 1e-12);
  ASSERT_GE(cm["explanation"].size(), 4u);
  // Figures from this run, not canned text: the parameter count, the fitted a, the given peak.
  const std::string why = cm["explanation"].dump();
  EXPECT_NE(why.find("13,610 parameters"), std::string::npos) << why;
  EXPECT_NE(why.find("100.0 GFLOP/s"), std::string::npos) << why;
  char a_text[64];
  const double a_ms = 1e3 * cm["a_seconds_per_iteration"].get<double>();
  std::snprintf(a_text, sizeof a_text, std::abs(a_ms) >= 10 ? "a = %.1f ms" : std::abs(a_ms) >= 0.1 ? "a = %.3f ms" : "a = %.4f ms", a_ms);
  EXPECT_NE(why.find(a_text), std::string::npos) << a_text << " not in " << why;

  const auto epoch = check_xml(slurp(out + "/epoch_time.svg"));
  ASSERT_TRUE(epoch.well_formed) << epoch.error;
  EXPECT_EQ(epoch.root, "svg");
  EXPECT_EQ(epoch.elements.at("circle"), 4);  // one marker per measured batch size
  const auto shares = check_xml(slurp(out + "/phase_shares.svg"));
  ASSERT_TRUE(shares.well_formed) << shares.error;
  EXPECT_GE(shares.elements.at("rect"), 4 * 3);  // at least forward, backward, update per bar

  const std::string md = slurp(out + "/sweep.md");
  EXPECT_NE(md.find("| batch |"), std::string::npos) << md;
  EXPECT_NE(md.find("## Why the curve flattens"), std::string::npos);
  EXPECT_NE(md.find("(epoch_time.svg)"), std::string::npos);
}

TEST_F(ReportCli, SweepRefusesAnOutThatIsAFileBeforeMeasuring) {
  std::ofstream(tmp.file("taken")) << "x";
  expect_cli_error(run_cli(tmp, "sweep" + data() + " --batch-sizes 1 --images 4 --out " + tmp.file("taken")), 2,
                   {"--out", "taken"});
  EXPECT_EQ(slurp(tmp.file("taken")), "x");
  expect_cli_error(run_cli(tmp, "sweep" + data("tiny", "fast")), 2, {"--peak", "'fast'"});
  expect_cli_error(run_cli(tmp, "sweep" + data("tiny", "100:")), 2, {"--peak"});
  expect_cli_error(run_cli(tmp, "sweep" + data() + " --compare julia"), 2, {"--compare", "'julia'"});
  expect_cli_error(run_cli(tmp, "sweep" + data() + " --target-accuracy 1.5"), 2, {"--target-accuracy"});
  expect_cli_error(run_cli(tmp, "sweep" + data() + " --target-accuracy 0.9 --lr-scaling cubic"), 2,
                   {"--lr-scaling", "'cubic'"});
}

TEST_F(ReportCli, PeersAreParsedOrSkippedWithANote) {
  // Stand-ins for python/numpy_cnn.py and torch_cnn.py speaking the same protocol: one JSON
  // object per batch size on stdout; exit 3 with a message when the package is missing.
  const std::string peers = tmp.file("peers");
  std::filesystem::create_directories(peers);
  std::ofstream(peers + "/numpy_cnn.py")
      << "import json, sys\n"
         "a = sys.argv; bs = [int(x) for x in a[a.index('--batch-sizes') + 1].split(',')]\n"
         "for b in bs:\n"
         "    ms = 4.0 + 2.5 * b\n"
         "    print(json.dumps({'peer': 'numpy', 'batch_size': b, 'images': 64, 'ms_per_iteration': ms,\n"
         "        'images_per_second': 1000.0 * b / ms, 'seconds_per_epoch': (60000 // b) * ms / 1000,\n"
         "        'version': '9.9'}), flush=True)\n";
  std::ofstream(peers + "/torch_cnn.py")
      << "import sys\nprint('torch_cnn.py: PyTorch is not installed', file=sys.stderr)\nsys.exit(3)\n";
  const std::string out = tmp.file("report");
  const RunResult r = run_cli(tmp, "sweep" + data("mnist-cnn") + " --batch-sizes 1,8 --images 16 --quiet" +
                                       " --compare numpy,torch --peers-dir " + peers + " --python python3 --out " + out);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("numpy s/epoch"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("torch: skipped: torch_cnn.py: PyTorch is not installed"), std::string::npos) << r.out;
  const auto j = nlohmann::json::parse(slurp(out + "/sweep.json"));
  ASSERT_EQ(j["peers"].size(), 2u);
  EXPECT_TRUE(j["peers"][0]["ran"].get<bool>());
  ASSERT_EQ(j["peers"][0]["results"].size(), 2u);
  EXPECT_DOUBLE_EQ(j["peers"][0]["results"][1]["ms_per_iteration"].get<double>(), 24.0);
  EXPECT_FALSE(j["peers"][1]["ran"].get<bool>());
  const auto csv = parse_csv(slurp(out + "/sweep.csv"));
  EXPECT_EQ(std::count_if(csv.begin(), csv.end(), [](const auto& row) { return row[0] == "numpy"; }), 2);
  // The seed's curve sits in the same chart: 2 batchscope markers and 2 numpy ones.
  const auto chart = check_xml(slurp(out + "/epoch_time.svg"));
  ASSERT_TRUE(chart.well_formed) << chart.error;
  EXPECT_EQ(chart.elements.at("circle"), 4);
  // A missing folder of peer scripts is a note too, not a failure.
  const RunResult m = run_cli(tmp, "sweep" + data("mnist-cnn") + " --batch-sizes 1,8 --images 16 --quiet" +
                                       " --compare numpy --peers-dir " + tmp.file("nowhere"));
  ASSERT_EQ(m.code, 0) << m.err;
  EXPECT_NE(m.out.find("numpy: skipped:"), std::string::npos) << m.out;
}

TEST_F(ReportCli, ProfileTableAndTraceNestingAndCoverage) {
  const std::string trace = tmp.file("trace.json");
  const RunResult r = run_cli(tmp, "profile" + data() + " --batch-size 8 --steps 10 --trace-steps 4 --quiet --json --trace " + trace);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["batch_size"], 8);
  // The profiler's own cost per step, from its measured cost per event, is far under 3%.
  EXPECT_LT(j["profiler_overhead_percent_bound"].get<double>(), 3.0);
  bool conv_forward = false;
  for (const auto& row : j["rows"]) {
    if (row["layer"] == "0 conv2d" && row["phase"] == "forward") {
      conv_forward = true;
      EXPECT_DOUBLE_EQ(row["flops"].get<double>(), 2.0 * 8 * 26 * 26 * 8 * 9);  // 2·N·HoWo·K·C·R·S
      EXPECT_GT(row["ms"].get<double>(), 0.0);
      const std::string bound = row["bound"];
      EXPECT_TRUE(bound == "compute" || bound == "memory" || bound == "overhead") << bound;
    }
  }
  EXPECT_TRUE(conv_forward) << r.out;
  // The rows say where the work went instead of showing a zero.
  int told = 0;
  for (const auto& row : j["rows"]) {
    told += row["layer"] == "1 relu" && row["phase"] == "backward-data (folded into the max-pool's backward)";
    told += row["layer"] == "1 relu" && row["phase"] == "forward (fused into the layer before)";
    told += row["layer"] == "3 flatten" && row["phase"] == "forward and backward (a view of its input: no copy)";
  }
  EXPECT_EQ(told, 3) << r.out;

  const auto t = nlohmann::json::parse(slurp(trace));
  std::vector<nlohmann::json> steps, others;
  for (const auto& e : t["traceEvents"])
    if (e["ph"] == "X") (e["cat"] == "step" && e["args"]["phase"] == "step" ? steps : others).push_back(e);
  ASSERT_EQ(steps.size(), 4u);
  for (const auto& s : steps) {
    const double t0 = s["ts"], t1 = t0 + s["dur"].get<double>();
    double top_level = 0;
    int layer_events = 0;
    for (const auto& e : others) {
      if (e["args"]["step"] != s["args"]["step"]) continue;
      const double a = e["ts"], b = a + e["dur"].get<double>();
      // Nested inside its step (1 ns of rounding either side).
      EXPECT_GE(a, t0 - 1e-3) << e.dump();
      EXPECT_LE(b, t1 + 1e-3) << e.dump();
      if (e["cat"] == "step") top_level += e["dur"].get<double>();
      else ++layer_events;
    }
    // data, zero-grad, forward, loss, backward and update cover the step, but for the loop.
    EXPECT_LE(top_level, s["dur"].get<double>() + 1e-3);
    EXPECT_GE(top_level, 0.9 * s["dur"].get<double>()) << s.dump();
    // Forward and backward of conv, max-pool and dense; the ReLU's forward runs in the conv and
    // its backward in the max-pool, and flatten is a view: none of those three has events.
    EXPECT_GE(layer_events, 3 + 3);
  }
  // Each layer event lies inside the step-level forward or backward of its step.
  for (const auto& e : others) {
    if (e["cat"] != "layer") continue;
    const std::string want = e["args"]["phase"] == "forward" ? "forward" : "backward";
    bool inside = false;
    for (const auto& p : others)
      if (p["cat"] == "step" && p["args"]["phase"] == want && p["args"]["step"] == e["args"]["step"] &&
          p["ts"].get<double>() <= e["ts"].get<double>() + 1e-3 &&
          e["ts"].get<double>() + e["dur"].get<double>() <= p["ts"].get<double>() + p["dur"].get<double>() + 1e-3)
        inside = true;
    EXPECT_TRUE(inside) << e.dump();
  }
}

TEST_F(ReportCli, TimeToAccuracyReachesAnEasyTargetAndWritesItsFiles) {
  const std::string out = tmp.file("tta");
  const RunResult r = run_cli(tmp, "sweep" + data() +
                                       " --batch-sizes 4,16 --target-accuracy 0.6 --check-every 100 --max-epochs 4"
                                       " --lr-warmup-images 32 --noise-repeats 4 --quiet --out " + out);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("# batchscope sweep: time to 60.00% test accuracy"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("# batch size advice:\n# recommended: batch "), std::string::npos) << r.out;
  const auto j = nlohmann::json::parse(slurp(out + "/tta.json"));
  ASSERT_EQ(j["runs"].size(), 2u);
  for (const auto& run : j["runs"]) {
    EXPECT_TRUE(run["reached"].get<bool>()) << run.dump();
    const auto& last = run["checks"].back();
    EXPECT_GE(last["test_accuracy"].get<double>(), 0.6);
    EXPECT_EQ(run["at_target"]["steps"], last["steps"]);
    // The repeated probes ran at the first check at or above 59.5%, here the last one.
    const auto& noise = run["noise_repeated"];
    EXPECT_EQ(noise["probes"], 4) << noise.dump();
    EXPECT_EQ(noise["at_steps"], last["steps"]);
    EXPECT_GE(noise["at_test_accuracy"].get<double>(), 0.595);
    if (noise["lo"].is_number() && noise["hi"].is_number())
      EXPECT_GE(noise["hi"].get<double>(), noise["lo"].get<double>()) << noise.dump();
  }
  EXPECT_EQ(j["advice"]["recommended_batch_size"], j["best_batch_size"]);
  EXPECT_GE(j["advice"]["explanation"].size(), 2u) << j["advice"].dump();
  // Adam, sqrt scaling from 0.002 at batch 64.
  EXPECT_EQ(j["optimizer"], "adam");
  EXPECT_NEAR(j["runs"][0]["lr"].get<double>(), 0.002 * std::sqrt(4.0 / 64), 1e-12);
  EXPECT_NEAR(j["runs"][1]["lr"].get<double>(), 0.002 * std::sqrt(16.0 / 64), 1e-12);
  EXPECT_TRUE(j["best_batch_size"] == 4 || j["best_batch_size"] == 16);
  const auto csv = parse_csv(slurp(out + "/tta.csv"));
  ASSERT_GE(csv.size(), 3u);
  EXPECT_EQ(csv[0].size(), 9u);
  const auto chart = check_xml(slurp(out + "/time_to_accuracy.svg"));
  EXPECT_TRUE(chart.well_formed) << chart.error;
}

}  // namespace
}  // namespace batchscope
