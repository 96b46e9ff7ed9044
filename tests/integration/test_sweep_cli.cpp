// `batchscope sweep` and `batchscope peak` as a user meets them: the JSON shape and the text
// report's '#' header, and one-line usage errors naming the flag (exit 2). Runs the built
// binary on tiny synthetic data with few images; timings are never asserted, only their shape.
//   build/tests/batchscope_tests --gtest_filter='SweepCli.*:PeakCli.*'
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "support/cli_run.h"
#include "support/synthetic.h"

namespace batchscope {
namespace {

using testing::TempDir;

using testing::expect_cli_error;
using testing::RunResult;
using testing::run_cli;
using testing::slurp;

class SweepCli : public ::testing::Test {
 protected:
  // 300 training images of MNIST's 28x28 so the presets fit; `tiny` keeps each step cheap.
  void SetUp() override { testing::write_synthetic_mnist_dir(tmp.path(), 300, 20, 28); }
  // A given roofline: the report is checked, not the machine, and no cache is written.
  std::string data() const { return " --data " + tmp.path().string() + " --model tiny --threads 1 --peak 100:10"; }
  TempDir tmp;
};

TEST_F(SweepCli, JsonHasOneResultPerBatchSizeInOrder) {
  const RunResult r = run_cli(tmp, "sweep" + data() + " --batch-sizes 4,1,64 --images 32 --warmup-steps 1 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);  // exactly one JSON document on stdout
  for (const char* key : {"model", "spec", "threads", "images", "results"}) EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j["model"], "tiny");
  EXPECT_EQ(j["threads"], 1);
  EXPECT_EQ(j["images"], 32);
  const std::vector<int64_t> expect_batches{4, 1, 64};
  ASSERT_EQ(j["results"].size(), expect_batches.size());
  for (size_t i = 0; i < expect_batches.size(); ++i) {
    const auto& row = j["results"][i];
    const int64_t b = expect_batches[i];
    EXPECT_EQ(row["batch_size"], b);
    EXPECT_EQ(row["iterations_per_epoch"], 300 / b);  // the last partial batch is dropped
    // At least one step even when the batch exceeds the image budget.
    EXPECT_EQ(row["steps_timed"], std::max<int64_t>(1, 32 / b));
    EXPECT_EQ(row["warmup_steps"], 1);
    EXPECT_GT(row["ms_per_iteration"].get<double>(), 0.0);
    EXPECT_GT(row["images_per_second"].get<double>(), 0.0);
    EXPECT_GT(row["seconds_per_epoch"].get<double>(), 0.0);
    EXPECT_NEAR(row["seconds_per_5_epochs"].get<double>(), 5 * row["seconds_per_epoch"].get<double>(),
                1e-9 * row["seconds_per_5_epochs"].get<double>());
  }
  // Progress goes to stderr, one line per batch size.
  EXPECT_NE(r.err.find("batch 64"), std::string::npos) << r.err;
}

TEST_F(SweepCli, TextReportHasHeaderThenOneRowPerBatchSize) {
  const RunResult r = run_cli(tmp, "sweep" + data() + " --batch-sizes 2,8 --images 16 --quiet");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(r.err.empty()) << r.err;  // --quiet
  std::istringstream lines(r.out);
  std::string line;
  std::vector<std::string> rows;
  std::string footer;
  bool header_done = false;
  while (std::getline(lines, line)) {
    if (line.rfind("#", 0) == 0) {
      if (header_done) footer += line + "\n";  // the cost-model block closes the report
      continue;
    }
    EXPECT_TRUE(footer.empty()) << "a table row after the footer: " << line;
    header_done = true;
    rows.push_back(line);
  }
  EXPECT_NE(footer.find("# cost model t_epoch(B) = N*(a/B + b)"), std::string::npos) << r.out;
  EXPECT_NE(footer.find("ms per iteration (fixed)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("# command   batchscope sweep"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("# host"), std::string::npos);
  EXPECT_NE(r.out.find("# threads   1"), std::string::npos);
  ASSERT_EQ(rows.size(), 3u) << r.out;  // column titles, then batch 2 and batch 8
  EXPECT_NE(rows[0].find("img/s"), std::string::npos);
  EXPECT_EQ(std::stoll(rows[1]), 2);
  EXPECT_EQ(std::stoll(rows[2]), 8);
}

TEST_F(SweepCli, BadFlagsExitTwoNamingTheFlag) {
  expect_cli_error(run_cli(tmp, "sweep" + data() + " --batch-sizes 0"), 2, {"--batch-sizes", "at least 1"});
  expect_cli_error(run_cli(tmp, "sweep" + data() + " --batch-sizes 1,,4"), 2, {"--batch-sizes", "''"});
  expect_cli_error(run_cli(tmp, "sweep" + data() + " --batch-sizes 1,x"), 2, {"--batch-sizes", "'x'"});
  expect_cli_error(run_cli(tmp, "sweep" + data() + " --batch-sizes -4"), 2, {"--batch-sizes", "-4", "at least 1"});
  expect_cli_error(run_cli(tmp, "sweep" + data() + " --batch-sizes 8,4,8"), 2, {"--batch-sizes", "twice"});
  expect_cli_error(run_cli(tmp, "sweep" + data() + " --batch-sizes 1,301"), 2, {"--batch-sizes", "301", "300"});
  expect_cli_error(run_cli(tmp, "sweep" + data() + " --images 0"), 2, {"--images", "out of range"});
  expect_cli_error(run_cli(tmp, "sweep" + data() + " --images many"), 2, {"--images", "'many'"});
  expect_cli_error(run_cli(tmp, "sweep" + data() + " --warmup-steps -1"), 2, {"--warmup-steps"});
  expect_cli_error(run_cli(tmp, "sweep" + data() + " --backend gpu"), 2, {"--backend", "gpu"});
  expect_cli_error(run_cli(tmp, "sweep --data " + tmp.path().string() + " --threads 0"), 2, {"--threads"});
  expect_cli_error(run_cli(tmp, "sweep" + data() + " --bogus 1"), 2, {"--bogus"});
  const RunResult help = run_cli(tmp, "sweep --help");
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("--batch-sizes VALUE"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("(default: 1,4,8,16,32,64,128,256)"), std::string::npos) << help.out;
}

TEST(PeakCli, JsonShapeAndHeader) {
  TempDir tmp;
  // Short probes and small triad buffers: this checks the report, not the machine.
  const RunResult r = run_cli(tmp, "peak --threads 2 --seconds 0.035 --triad-mib 4 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  for (const char* key : {"gflops_1t", "gflops_1t_max", "gflops_all", "gflops_all_max", "triad_gbs",
                          "triad_gbs_max", "triad_gbs_write_allocate", "triad_bytes_per_element", "isa",
                          "cores", "host", "date"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j["threads"], 2);
  EXPECT_EQ(j["cores"].size(), 2u);
  EXPECT_EQ(j["triad_mib_per_array"], 4);
  EXPECT_GT(j["gflops_1t"].get<double>(), 0.0);
  EXPECT_GE(j["gflops_1t_max"].get<double>(), j["gflops_1t"].get<double>());
  EXPECT_GT(j["triad_gbs"].get<double>(), 0.0);

  const RunResult t = run_cli(tmp, "peak --threads 1 --seconds 0.035 --triad-mib 4");
  ASSERT_EQ(t.code, 0) << t.err;
  EXPECT_EQ(t.out.rfind("# ", 0), 0u) << t.out;
  for (const char* phrase : {"# command   batchscope peak", "# host", "# date", "# threads   1", "fma_fp32", "triad"})
    EXPECT_NE(t.out.find(phrase), std::string::npos) << phrase << " not in: " << t.out;
}

TEST(PeakCli, BadFlagsExitTwoNamingTheFlag) {
  TempDir tmp;
  expect_cli_error(run_cli(tmp, "peak --threads 0"), 2, {"--threads", "out of range"});
  expect_cli_error(run_cli(tmp, "peak --seconds 0"), 2, {"--seconds", "out of range"});
  expect_cli_error(run_cli(tmp, "peak --seconds soon"), 2, {"--seconds", "'soon'"});
  expect_cli_error(run_cli(tmp, "peak --triad-mib 0"), 2, {"--triad-mib"});
  expect_cli_error(run_cli(tmp, "peak --json extra"), 2, {"extra"});
  const RunResult help = run_cli(tmp, "peak --help");
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("--threads VALUE"), std::string::npos) << help.out;
}

// --ranks: a list of positive counts with 1 in it when launched from one process (the
// baseline), and MPI in the build for any count above 1.
TEST_F(SweepCli, RankCountsAreCheckedBeforeAnythingRuns) {
  expect_cli_error(run_cli(tmp, "sweep" + data() + " --ranks 1,0"), 2, {"--ranks", "'0'", "1 to 4096"});
  expect_cli_error(run_cli(tmp, "sweep" + data() + " --ranks 1,2,2"), 2, {"--ranks", "listed twice"});
  expect_cli_error(run_cli(tmp, "sweep" + data() + " --ranks 2"), 2, {"--ranks", "needs 1 in the list", "mpirun -np 2 batchscope sweep"});
  expect_cli_error(run_cli(tmp, "sweep" + data() + " --ranks 1,2 --target-accuracy 0.9"), 2, {"--ranks", "--target-accuracy"});
#if !BATCHSCOPE_HAVE_MPI
  expect_cli_error(run_cli(tmp, "sweep" + data() + " --ranks 1,2"), 2, {"--ranks", "no MPI support"});
#endif
}

}  // namespace
}  // namespace batchscope
