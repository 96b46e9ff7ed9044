// The batchscope binary as a user meets it: results on stdout (one JSON object with --json),
// one-line errors on stderr naming the flag or file, exit 2 for usage errors and 1 otherwise,
// and no half-written checkpoint when something fails.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/cli_run.h"
#include "batchscope/recipe.h"
#include "batchscope/checkpoint.h"
#include "support/synthetic.h"

namespace batchscope {
namespace {

using testing::TempDir;

using testing::expect_cli_error;
using testing::RunResult;
using testing::run_cli;
using testing::slurp;

class Cli : public ::testing::Test {
 protected:
  void SetUp() override { testing::write_synthetic_mnist_dir(tmp.path(), 600, 200); }
  std::string data() const { return " --data " + tmp.path().string() + " --model " + kSpec; }
  TempDir tmp;
  static constexpr const char* kSpec = "conv2d:4:3,relu,maxpool2d:2,flatten,dense:10";
};

TEST_F(Cli, TrainJsonEvalAndPredict) {
  const std::string ckpt = tmp.file("m.safetensors");
  RunResult r = run_cli(tmp, "train" + data() + " --epochs 2 --batch-size 20 --lr 0.05 --threads 2 --json --save " + ckpt);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);  // exactly one JSON document on stdout
  for (const char* key : {"test_accuracy", "test_loss", "epochs", "batch_size", "train_seconds", "images_per_second"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j["epochs"], 2);
  EXPECT_EQ(j["batch_size"], 20);
  EXPECT_GT(j["test_accuracy"].get<double>(), 0.9);
  EXPECT_EQ(j["history"].size(), 2u);
  EXPECT_NE(r.err.find("epoch 2/2"), std::string::npos);  // progress and summaries on stderr
  EXPECT_TRUE(std::filesystem::exists(ckpt));

  RunResult e = run_cli(tmp, "eval --checkpoint " + ckpt + " --data " + tmp.path().string() + " --json");
  ASSERT_EQ(e.code, 0) << e.err;
  const auto ej = nlohmann::json::parse(e.out);
  EXPECT_DOUBLE_EQ(ej["accuracy"].get<double>(), j["test_accuracy"].get<double>());
  EXPECT_EQ(ej["confusion"].size(), 10u);
  int64_t total = 0;
  for (const auto& row : ej["confusion"]) for (const auto& v : row) total += v.get<int64_t>();
  EXPECT_EQ(total, 200);
  RunResult et = run_cli(tmp, "eval --checkpoint " + ckpt + " --data " + tmp.path().string());
  EXPECT_NE(et.out.find("confusion matrix"), std::string::npos);

  RunResult p = run_cli(tmp, "predict --checkpoint " + ckpt + " --images " + tmp.file("t10k-images-idx3-ubyte") + " --first 5 --json");
  ASSERT_EQ(p.code, 0) << p.err;
  const auto pj = nlohmann::json::parse(p.out);
  ASSERT_EQ(pj["predictions"].size(), 5u);
  double sum = 0;
  for (double v : pj["predictions"][0]["probabilities"]) sum += v;
  EXPECT_NEAR(sum, 1.0, 1e-4);

  // A PGM of the first test image gets the same class as the IDX copy of it.
  {
    const Dataset te = testing::make_synthetic(200, 2);
    std::ofstream pgm(tmp.file("first.pgm"), std::ios::binary);
    pgm << "P5\n# first test image\n12 12\n255\n";
    pgm.write(reinterpret_cast<const char*>(te.images.pixels.data()), 144);
  }
  RunResult pg = run_cli(tmp, "predict --checkpoint " + ckpt + " --json " + tmp.file("first.pgm"));
  ASSERT_EQ(pg.code, 0) << pg.err;
  EXPECT_EQ(nlohmann::json::parse(pg.out)["predictions"][0]["class"], pj["predictions"][0]["class"]);

  // PyTorch loads the checkpoint with load_state_dict(strict=True) and gets eval's accuracy.
  if (std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") == 0) {
    const std::string py = std::string("/usr/bin/python3 ") + BATCHSCOPE_SOURCE_DIR +
                           "/python/torch_eval_checkpoint.py " + ckpt + " " + tmp.path().string();
    const std::string out = tmp.file("torch.txt");
    ASSERT_EQ(std::system((py + " >" + out + " 2>&1").c_str()), 0) << slurp(out);
    char expect[64];
    std::snprintf(expect, sizeof expect, "test accuracy %.2f%%", 100 * ej["accuracy"].get<double>());
    EXPECT_NE(slurp(out).find(expect), std::string::npos) << slurp(out) << " vs " << expect;
  } else {
    std::fprintf(stderr, "python3-torch not installed: skipping the PyTorch load check\n");
  }

  // Resume to a third epoch from the saved checkpoint.
  RunResult rr = run_cli(tmp, "train --data " + tmp.path().string() + " --resume " + ckpt + " --epochs 3 --threads 2 --json");
  ASSERT_EQ(rr.code, 0) << rr.err;
  EXPECT_NE(rr.err.find("resuming after epoch 2"), std::string::npos) << rr.err;
  RunResult conflict = run_cli(tmp, "train --data " + tmp.path().string() + " --resume " + ckpt + " --epochs 3 --batch-size 7");
  expect_cli_error(conflict, 2, {"--batch-size", "checkpoint"});
}

TEST_F(Cli, UsageErrorsExitTwoNamingTheFlag) {
  expect_cli_error(run_cli(tmp, "train --batch-size 0" + data()), 2, {"--batch-size", "out of range"});
  expect_cli_error(run_cli(tmp, "train --batch-size 601" + data()), 2, {"--batch-size", "600"});
  expect_cli_error(run_cli(tmp, "train --epochs x" + data()), 2, {"--epochs", "'x'"});
  expect_cli_error(run_cli(tmp, "train --bogus 3" + data()), 2, {"--bogus"});
  expect_cli_error(run_cli(tmp, "train --optimizer rmsprop" + data()), 2, {"--optimizer", "rmsprop"});
  expect_cli_error(run_cli(tmp, "train --backend gpu" + data()), 2, {"--backend", "gpu"});
  expect_cli_error(run_cli(tmp, "train --lr -1" + data()), 2, {"--lr"});
  expect_cli_error(run_cli(tmp, "train --batch-size 20 --grad-shards 3" + data()), 2,
                   {"--grad-shards: 3", "does not divide the batch size 20"});
  expect_cli_error(run_cli(tmp, "train --grad-shards 0" + data()), 2, {"--grad-shards"});
  expect_cli_error(run_cli(tmp, "frobnicate"), 2, {"frobnicate"});
  expect_cli_error(run_cli(tmp, "eval --data " + tmp.path().string()), 2, {"--checkpoint"});
  expect_cli_error(run_cli(tmp, "train --max-memory 1 --batch-size 600" + data()), 2,
                   {"--max-memory", "MiB", "batch 600"});
  expect_cli_error(run_cli(tmp, "train --checkpoint-every 5" + data()), 2, {"--checkpoint-every", "--save"});
  RunResult help = run_cli(tmp, "train --help");
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("--batch-size VALUE"), std::string::npos);
  EXPECT_NE(help.out.find("(default: 64)"), std::string::npos);
}

TEST_F(Cli, BadDataAndSpecsExitOne) {
  expect_cli_error(run_cli(tmp, "train --data " + tmp.file("nowhere") + " --model tiny"), 1, {"nowhere"});
  // Labels that do not match the images.
  std::filesystem::copy_file(BATCHSCOPE_TEST_DATA "/bad-magic-idx3-ubyte", tmp.file("bad"));
  expect_cli_error(run_cli(tmp, "train" + data() + " --train-images " + tmp.file("bad")), 1, {"bad", "magic"});
  expect_cli_error(run_cli(tmp, "train --data " + tmp.path().string() + " --model conv2d:4:3,dense:10"), 1,
               {"dense:10", "flatten"});
}

TEST_F(Cli, CorruptCheckpointIsRefusedAndNeverHalfWritten) {
  const std::string ckpt = tmp.file("c.safetensors");
  ASSERT_EQ(run_cli(tmp, "train" + data() + " --epochs 1 --save " + ckpt + " --quiet").code, 0);
  const std::string good = slurp(ckpt);
  {
    std::ofstream out(tmp.file("cut.safetensors"), std::ios::binary);
    out << good.substr(0, good.size() / 2);
  }
  expect_cli_error(run_cli(tmp, "eval --checkpoint " + tmp.file("cut.safetensors") + " --data " + tmp.path().string()), 1,
               {"cut.safetensors"});
  // A run that fails (bad data) does not touch an existing checkpoint.
  run_cli(tmp, "train --data " + tmp.file("nowhere") + " --save " + ckpt);
  EXPECT_EQ(slurp(ckpt), good);
  for (const auto& entry : std::filesystem::directory_iterator(tmp.path()))
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();
}

}  // namespace
}  // namespace batchscope

namespace batchscope {
namespace {

// Kill -9 at arbitrary moments, resume from the last checkpoint each time: the final weights
// must be the uninterrupted run's, byte for byte (same seed and threads).
TEST_F(Cli, KilledAndResumedRunEndsBitForBitLikeAStraightRun) {
  // About 1.5 s uninterrupted (600 synthetic images, a tiny model, 7500 steps).
  const std::string args = data() + " --epochs 100 --batch-size 8 --threads 2 --quiet --checkpoint-every 5";
  const std::string straight = tmp.file("straight.safetensors"), resumed = tmp.file("resumed.safetensors");
  ASSERT_EQ(run_cli(tmp, "train" + args + " --save " + straight).code, 0);
  const std::string want = slurp(straight);
  int kills = 0, rounds = 0;
  for (; rounds < 40; ++rounds) {
    const bool have = std::filesystem::exists(resumed);
    // Kill somewhere in set-up, a step, a checkpoint write or evaluation; the delay grows each
    // round so that slow builds (sanitizers) and loaded machines still get to the end.
    const std::string delay = std::to_string(0.15 + 0.1 * (rounds % 5) + 0.1 * rounds);
    const std::string cmd = "timeout -s KILL " + delay + " " + std::string(BATCHSCOPE_BIN) + " train" +
                            args + " --save " + resumed + (have ? " --resume " + resumed : "") +
                            " >/dev/null 2>" + tmp.file("err.txt");
    const int status = std::system(cmd.c_str());
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (code == 0) break;
    // A kill between the last checkpoint and the exit leaves a finished run, which --resume
    // then refuses to extend: that file is the end result too.
    if (code == 2 && slurp(tmp.file("err.txt")).find("already trained 100 epoch(s)") != std::string::npos) break;
    ASSERT_EQ(code, 137) << slurp(tmp.file("err.txt"));  // timeout's code for a KILLed child
    ++kills;
  }
  ASSERT_LT(rounds, 40) << "never finished";
  EXPECT_GT(kills, 0) << "the run was never interrupted; the test proved nothing";
  EXPECT_EQ(slurp(resumed), want);
}

// Ctrl-C: finish the step, write the checkpoint, say where, exit 130; resuming completes.
TEST_F(Cli, SigintWritesACheckpointAndExits130) {
  const std::string ckpt = tmp.file("int.safetensors");
  const std::string args = data() + " --epochs 100 --batch-size 4 --threads 2 --quiet --save " + ckpt;
  const std::string cmd = "timeout --preserve-status -s INT 0.4 " + std::string(BATCHSCOPE_BIN) +
                          " train" + args + " >/dev/null 2>" + tmp.file("err.txt");
  const int status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  const std::string err = slurp(tmp.file("err.txt"));
  ASSERT_EQ(WEXITSTATUS(status), 130) << err;
  EXPECT_NE(err.find("interrupted by SIGINT after step"), std::string::npos) << err;
  EXPECT_NE(err.find(ckpt), std::string::npos) << err;
  const RunResult r =
      run_cli(tmp, "train --data " + tmp.path().string() + " --resume " + ckpt + " --quiet --threads 2");
  EXPECT_EQ(r.code, 0) << r.err;
}

}  // namespace
}  // namespace batchscope

namespace batchscope {
namespace {

// SIGTERM (systemd, Slurm, Kubernetes) does what Ctrl-C does: finish the step, write --save,
// exit 128 + 15; resuming then ends with the uninterrupted run's weights, byte for byte.
TEST_F(Cli, SigtermSavesExits143AndResumesBitForBit) {
  const std::string args = data() + " --epochs 100 --batch-size 8 --threads 2 --quiet";
  const std::string straight = tmp.file("straight.safetensors"), ckpt = tmp.file("term.safetensors");
  ASSERT_EQ(run_cli(tmp, "train" + args + " --save " + straight).code, 0);
  // TERM once the first epoch's checkpoint is written: mid-run however fast the machine.
  const std::string err_file = tmp.file("err.txt");
  const std::string cmd = std::string(BATCHSCOPE_BIN) + " train" + args + " --save " + ckpt +
                          " >/dev/null 2>" + err_file + " & pid=$!; " +
                          "until grep -q 'saved checkpoint' " + err_file + " || ! kill -0 $pid 2>/dev/null; do sleep 0.01; done; " +
                          "kill -TERM $pid; wait $pid";
  const int status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  const std::string err = slurp(err_file);
  ASSERT_EQ(WEXITSTATUS(status), 143) << err;
  EXPECT_NE(err.find("interrupted by SIGTERM after step"), std::string::npos) << err;
  ASSERT_TRUE(std::filesystem::exists(ckpt)) << err;
  const RunResult r = run_cli(tmp, "train --data " + tmp.path().string() + " --resume " + ckpt +
                                       " --quiet --threads 2 --save " + ckpt);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(slurp(ckpt), slurp(straight));
}

// More threads than CPUs would make every OpenMP barrier wait a time slice: clamp and say so.
TEST_F(Cli, ThreadsAboveTheCpusAreClampedWithAWarning) {
  const RunResult r = run_cli(tmp, "train" + data() + " --epochs 1 --threads 999 --json --quiet");
  ASSERT_EQ(r.code, 0) << r.err;
  const int cpus = nlohmann::json::parse(r.out).at("threads").get<int>();
  EXPECT_GE(cpus, 1);
  EXPECT_LT(cpus, 999);
  EXPECT_NE(r.err.find("--threads 999 is more than the " + std::to_string(cpus) +
                       " CPUs this process may run on; using " + std::to_string(cpus)),
            std::string::npos)
      << r.err;
  // One line, before anything else (the banner goes to stderr with --json).
  EXPECT_EQ(r.err.rfind("batchscope: warning: --threads 999", 0), 0u) << r.err;
  EXPECT_EQ(r.err.find("warning", 30), std::string::npos) << r.err;
}

// Started as one of several MPI ranks (mpirun -np 2), a build without MPI support must refuse before it reads or writes anything: two independent runs would each train and
// overwrite the same checkpoint. One rank (mpirun -np 1) is an ordinary run.
TEST_F(Cli, SeveralMpiRanksAreRefusedBeforeAnythingIsWritten) {
#if BATCHSCOPE_HAVE_MPI
  GTEST_SKIP() << "built with MPI: a faked launcher environment would start MPI for real; "
                  "the sanitizer leg (BATCHSCOPE_MPI=OFF) runs this";
#endif
  const std::string ckpt = tmp.file("ranks.safetensors");
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"}) {
    ASSERT_EQ(setenv(var, "2", 1), 0);
    const RunResult r = run_cli(tmp, "train" + data() + " --epochs 1 --save " + ckpt);
    unsetenv(var);
    expect_cli_error(r, 2, {"rank", "of 2 MPI processes", var, "one process"});
    EXPECT_FALSE(std::filesystem::exists(ckpt)) << var;
  }
  ASSERT_EQ(setenv("OMPI_COMM_WORLD_SIZE", "1", 1), 0);
  const RunResult one = run_cli(tmp, "models --json");
  unsetenv("OMPI_COMM_WORLD_SIZE");
  EXPECT_EQ(one.code, 0) << one.err;
}

// With oneDNN capped to AVX2 (as on a CPU without AVX-512), Winograd and bf16 are not offered:
// asking for them is a usage error naming the flag, the feature and what to use instead;
// auto falls back to direct, and `models` says why each variant is missing.
TEST_F(Cli, KernelVariantsThisCpuLacksAreUsageErrors) {
  ASSERT_EQ(setenv("ONEDNN_MAX_CPU_ISA", "AVX2", 1), 0);
  expect_cli_error(run_cli(tmp, "train" + data() + " --conv-algo winograd"), 2,
                   {"--conv-algo: winograd", "AVX-512", "use direct"});
  expect_cli_error(run_cli(tmp, "train" + data() + " --precision bf16"), 2,
                   {"--precision: bf16", "AVX-512", "use f32"});
  expect_cli_error(run_cli(tmp, "profile" + data() + " --conv-algo winograd --peak 100:10"), 2,
                   {"--conv-algo: winograd", "AVX-512"});
  const RunResult fallback = run_cli(tmp, "train" + data() + " --conv-algo auto --epochs 1 --json --quiet");
  EXPECT_EQ(fallback.code, 0) << fallback.err;
  if (fallback.code == 0) {
    EXPECT_EQ(nlohmann::json::parse(fallback.out).at("backend"), "onednn");
  }
  const RunResult models = run_cli(tmp, "models --json");
  unsetenv("ONEDNN_MAX_CPU_ISA");
  ASSERT_EQ(models.code, 0) << models.err;
  const nlohmann::json j = nlohmann::json::parse(models.out);
  EXPECT_EQ(j.at("onednn_isa").get<std::string>().rfind("avx2", 0), 0u) << j.at("onednn_isa");
  int offered = 0;
  for (const auto& v : j.at("kernel_variants")) {
    const std::string name = v.at("name");
    const bool default_one = name == "reference" || name == "onednn";
    EXPECT_EQ(v.at("supported").get<bool>(), default_one) << name;
    EXPECT_EQ(v.at("why_not").get<std::string>().empty(), default_one) << name;
    offered += v.at("supported").get<bool>();
  }
  EXPECT_EQ(offered, 2);
  expect_cli_error(run_cli(tmp, "train" + data() + " --backend reference --conv-algo winograd"), 2,
                   {"--conv-algo: winograd", "reference"});
}

// Without a cap, the variants offered are exactly what this CPU's oneDNN ISA allows.
TEST_F(Cli, ModelsListsTheVariantsThisCpuOffers) {
  const RunResult r = run_cli(tmp, "models --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("models").size(), 3u);
  const bool avx512 = j.at("onednn_isa").get<std::string>().rfind("avx512", 0) == 0;
  ASSERT_EQ(j.at("kernel_variants").size(), 5u);
  for (const auto& v : j.at("kernel_variants")) {
    const std::string name = v.at("name");
    if (name == "reference" || name == "onednn") {
      EXPECT_TRUE(v.at("supported").get<bool>()) << name;
    }
    // oneDNN 2.6 has no bf16 Winograd; the single-change variants need AVX-512 exactly.
    if (name == "onednn-winograd" || name == "onednn-bf16") {
      EXPECT_EQ(v.at("supported").get<bool>(), avx512) << name << ": " << v.at("why_not");
    }
  }
}

TEST_F(Cli, ARecipeSetsEverySettingTheFlagsDoNotAndIsRecorded) {
  const std::string ckpt = tmp.file("fast.safetensors");
  // The data: 600 images, so the recipe's batch of 256 gives 2 steps an epoch.
  RunResult r = run_cli(tmp, "train --data " + tmp.path().string() + " --recipe fast --threads 1 --json --quiet --save " + ckpt);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  const Recipe& fast = find_recipe("fast");
  EXPECT_EQ(j.at("recipe"), "fast");
  EXPECT_EQ(j.at("batch_size"), 256);
  EXPECT_EQ(j.at("optimizer"), "adam");
  EXPECT_DOUBLE_EQ(j.at("lr").get<double>(), 0.01);
  EXPECT_EQ(j.at("epochs"), 2);
  {
    Model probe(fast.get("model"), Shape{1, 28, 28}, 10, kernels::Backend::Reference, 0);
    EXPECT_EQ(j.at("spec"), probe.spec());
  }
  const CheckpointInfo info = read_checkpoint_info(ckpt);
  EXPECT_EQ(info.train.recipe, "fast");
  EXPECT_EQ(info.train.schedule.kind, ScheduleKind::OneCycle);
  EXPECT_DOUBLE_EQ(info.train.schedule.pct_start, 0.25);
  EXPECT_FALSE(info.train.schedule.cycle_momentum);
  EXPECT_DOUBLE_EQ(info.train.optim.beta1, 0.7);
  EXPECT_DOUBLE_EQ(info.train.optim.beta2, 0.9);
  // A flag given overrides its setting and leaves the others.
  r = run_cli(tmp, "train --data " + tmp.path().string() + " --recipe fast --batch-size 100 --beta1 0.8 --threads 1 --json --quiet");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j2 = nlohmann::json::parse(r.out);
  EXPECT_EQ(j2.at("batch_size"), 100);
  EXPECT_EQ(j2.at("optimizer"), "adam");
  // Unknown recipes, and one-cycle settings it cannot honour, are usage errors naming the flag.
  expect_cli_error(run_cli(tmp, "train" + data() + " --recipe quick"), 2, {"--recipe: 'quick' is not a recipe", "fast"});
  expect_cli_error(run_cli(tmp, "train" + data() + " --schedule onecycle --warmup-steps 3"), 2, {"--warmup-steps", "onecycle"});
  expect_cli_error(run_cli(tmp, "train" + data() + " --schedule onecycle --momentum 0"), 2, {"--cycle-momentum", "momentum is 0"});
  const RunResult m = run_cli(tmp, "models --json");
  ASSERT_EQ(m.code, 0) << m.err;
  const auto mj = nlohmann::json::parse(m.out);
  ASSERT_EQ(mj.at("recipes").size(), recipes().size());
  EXPECT_EQ(mj.at("recipes")[0].at("name"), "fast");
  EXPECT_EQ(mj.at("recipes")[0].at("settings").at("schedule"), "onecycle");
}

TEST_F(Cli, SweepTimeToAccuracyTakesTheRecipe) {
  const RunResult r = run_cli(tmp, "sweep --data " + tmp.path().string() +
                                       " --recipe fast --target-accuracy 0.99 --max-train-seconds 5 --check-every 200 "
                                       "--threads 1 --json --quiet");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("recipe"), "fast");
  EXPECT_EQ(j.at("schedule"), "onecycle");
  EXPECT_EQ(j.at("optimizer"), "adam");
  EXPECT_DOUBLE_EQ(j.at("base_lr").get<double>(), 0.01);
  EXPECT_EQ(j.at("base_batch"), 256);
  EXPECT_DOUBLE_EQ(j.at("beta1").get<double>(), 0.7);
  ASSERT_EQ(j.at("runs").size(), 1u);
  EXPECT_EQ(j.at("runs")[0].at("batch_size"), 256);
  EXPECT_EQ(j.at("runs")[0].at("warmup_steps"), 0);  // one-cycle warms up itself
}

}  // namespace
}  // namespace batchscope
