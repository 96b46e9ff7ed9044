// End-to-end training on generated data: it learns, it is bitwise deterministic for a fixed
// seed and thread count, and checkpoints round-trip and resume exactly.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstring>
#include <functional>

#include "batchscope/checkpoint.h"
#include "batchscope/error.h"
#include "batchscope/trainer.h"
#include "kernels/kernels.h"
#include "support/synthetic.h"

namespace batchscope {
namespace {

using testing::make_synthetic;
using testing::TempDir;

const char* kSpec = "conv2d:4:3,relu,maxpool2d:2,flatten,dense:16,relu,dense:10";
const Shape kIn{1, 12, 12};

TrainConfig small_config() {
  TrainConfig c;
  c.epochs = 3;
  c.batch_size = 16;
  c.optim.lr = 0.05;
  c.seed = 9;
  return c;
}

std::vector<float> train_weights(kernels::Backend b, const TrainConfig& c, const Dataset& d) {
  Model m(kSpec, kIn, 10, b, c.seed);
  Trainer t(m, c, d);
  while (t.epoch() < c.epochs) t.train_epoch(nullptr);
  return {m.params().data(), m.params().data() + m.num_params()};
}

TEST(Training, LearnsSyntheticDataOnEveryBackend) {
  const Dataset train = make_synthetic(800, 1), test = make_synthetic(400, 2);
  for (auto b : {kernels::Backend::Reference, kernels::Backend::OneDnn}) {
    Model m(kSpec, kIn, 10, b, 3);
    const EvalResult before = evaluate(m, test, Normalization{});
    Trainer t(m, small_config(), train);
    StepProgress last;
    while (t.epoch() < 3) last = t.train_epoch(nullptr);
    const EvalResult after = evaluate(m, test, Normalization{});
    SCOPED_TRACE(std::string(m.ops().name));
    EXPECT_GT(before.loss, 2.0);  // chance level is ln 10 = 2.30
    EXPECT_LT(after.loss, 0.3);
    EXPECT_GT(after.accuracy, 0.95);
    EXPECT_LT(last.loss, 0.5);
  }
}

TEST(Training, ReferenceAndOneDnnAgreeStepByStep) {
  const Dataset train = make_synthetic(64, 1);
  TrainConfig c = small_config();
  c.epochs = 1;
  const auto a = train_weights(kernels::Backend::Reference, c, train);
  const auto b = train_weights(kernels::Backend::OneDnn, c, train);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-4) << "param " << i;
}

// Trains `spec` for one epoch on each back-end after checking the activation blocks it chose,
// expected(table's block) per tensor; the onednn weights must agree with the reference's, whose
// tensors are all plain.
void expect_blocks_and_reference_weights(const char* spec,
                                         const std::function<std::vector<int64_t>(int64_t)>& expected) {
  const Dataset train = make_synthetic(64, 1);
  TrainConfig c = small_config();
  c.epochs = 1;
  std::vector<std::vector<float>> weights;
  for (auto b : {kernels::Backend::Reference, kernels::Backend::OneDnn}) {
    Model m(spec, kIn, 10, b, c.seed);
    const int64_t table = kernels::activation_block(m.ops());
    SCOPED_TRACE(std::string(m.ops().name) + " block " + std::to_string(table));
    if (b == kernels::Backend::Reference) EXPECT_EQ(table, 0);
    const std::vector<int64_t> want = expected(table);
    ASSERT_EQ(want.size(), m.layers().size() + 1);
    for (size_t i = 0; i <= m.layers().size(); ++i) EXPECT_EQ(m.activation_block(i), want[i]) << i;
    Trainer t(m, c, train);
    t.train_epoch(nullptr);
    weights.emplace_back(m.params().data(), m.params().data() + m.num_params());
  }
  ASSERT_EQ(weights[0].size(), weights[1].size());
  for (size_t i = 0; i < weights[0].size(); ++i) ASSERT_NEAR(weights[0][i], weights[1][i], 1e-4) << "param " << i;
}

// Channel-blocked activations between conv1, conv2 and the max-pool (where the table's
// convolutions want them): the layouts chosen, and one epoch that agrees with the reference.
TEST(Training, BlockedActivationsAgreeWithThePlainReference) {
  // image, conv1 out, relu out (its view), conv2 out, relu out, pool out, flatten out, logits
  expect_blocks_and_reference_weights("conv2d:16:3,relu,conv2d:16:3,relu,maxpool2d:2,flatten,dense:10",
                                      [](int64_t b) { return std::vector<int64_t>{0, b, b, b, b, 0, 0, 0}; });
}

// 24 channels do not fill a 16-wide block: where the table blocks by 16 (AVX-512), that tensor
// and its readers take 8-wide blocks (the first conv writes nChw8c directly), the 16-channel one
// after it 16-wide; where it blocks by 8, all are 8-wide.
TEST(Training, ChannelsThatDoNotFillABlockTakeEightWideBlocks) {
  // image, conv1 out, relu (view), conv2 out, pool out, relu, flatten, logits
  expect_blocks_and_reference_weights("conv2d:24:3,relu,conv2d:16:3,maxpool2d:2,relu,flatten,dense:10", [](int64_t b) {
    const int64_t b24 = b == 0 ? 0 : 8;
    return std::vector<int64_t>{0, b24, b24, b, 0, 0, 0, 0};
  });
}

TEST(Training, SameSeedAndThreadsGiveBitwiseIdenticalWeights) {
  const Dataset train = make_synthetic(400, 1);
  TrainConfig c = small_config();
  c.epochs = 2;
  c.optim.nesterov = true;
  const int saved = omp_get_max_threads();
  omp_set_num_threads(2);
  const auto a = train_weights(kernels::Backend::OneDnn, c, train);
  const auto b = train_weights(kernels::Backend::OneDnn, c, train);
  c.seed = 10;
  const auto other = train_weights(kernels::Backend::OneDnn, c, train);
  omp_set_num_threads(saved);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);
  EXPECT_NE(std::memcmp(a.data(), other.data(), a.size() * sizeof(float)), 0);
}

TEST(Training, RejectsBatchLargerThanData) {
  const Dataset train = make_synthetic(10, 1);
  Model m(kSpec, kIn, 10, kernels::Backend::Reference, 1);
  TrainConfig c = small_config();
  c.batch_size = 11;
  EXPECT_THROW(Trainer(m, c, train), UsageError);
}

TEST(Training, DivergenceStopsWithAClearError) {
  const Dataset train = make_synthetic(200, 1);
  Model m(kSpec, kIn, 10, kernels::Backend::OneDnn, 1);
  TrainConfig c = small_config();
  c.optim.lr = 1e6;
  Trainer t(m, c, train);
  try {
    t.train_epoch(nullptr);
    FAIL() << "lr 1e6 did not diverge";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("diverged"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("try a lower learning rate (now 1e+06)"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("first non-finite values in layer"), std::string::npos)
        << e.what();
  }
}

TEST(Checkpoint, RoundTripRestoresWeightsAndPredictions) {
  TempDir tmp;
  const Dataset train = make_synthetic(160, 1), test = make_synthetic(100, 2);
  TrainConfig c = small_config();
  c.epochs = 1;
  Model m(kSpec, kIn, 10, kernels::Backend::OneDnn, c.seed);
  Trainer t(m, c, train);
  t.train_epoch(nullptr);
  CheckpointInfo info;
  info.epoch = t.epoch();
  info.step = t.step();
  info.train = c;
  const std::string file = tmp.file("m.safetensors");
  save_checkpoint(file, m, &t.optimizer(), info);

  const CheckpointInfo back = read_checkpoint_info(file);
  EXPECT_EQ(back.model_spec, m.spec());
  EXPECT_EQ(back.epoch, 1);
  EXPECT_EQ(back.step, t.step());
  EXPECT_EQ(back.in_sample, kIn);
  EXPECT_DOUBLE_EQ(back.train.optim.lr, c.optim.lr);
  EXPECT_EQ(back.train.seed, c.seed);
  Model m2(back.model_spec, back.in_sample, 10, kernels::Backend::OneDnn, /*seed=*/12345);
  load_checkpoint(file, m2, nullptr);
  EXPECT_EQ(std::memcmp(m.params().data(), m2.params().data(), m.num_params() * sizeof(float)), 0);
  EXPECT_DOUBLE_EQ(evaluate(m, test, c.norm).loss, evaluate(m2, test, c.norm).loss);

  Model wrong("conv2d:4:3,relu,maxpool2d:2,flatten,dense:10", kIn, 10, kernels::Backend::OneDnn, 1);
  try {
    load_checkpoint(file, wrong, nullptr);
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("m.safetensors"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("expected"), std::string::npos);
  }
}

TEST(Checkpoint, ResumeContinuesBitForBit) {
  TempDir tmp;
  const Dataset train = make_synthetic(240, 1);
  TrainConfig c = small_config();
  c.schedule.kind = ScheduleKind::Cosine;
  c.schedule.warmup_steps = 5;
  c.optim.kind = OptimizerKind::Adam;
  c.optim.lr = 3e-3;
  const auto straight = train_weights(kernels::Backend::OneDnn, c, train);

  const std::string file = tmp.file("half.safetensors");
  {
    Model m(kSpec, kIn, 10, kernels::Backend::OneDnn, c.seed);
    Trainer t(m, c, train);
    t.train_epoch(nullptr);
    CheckpointInfo info{m.spec(), kIn, 10, t.epoch(), t.step(), c, 0};
    save_checkpoint(file, m, &t.optimizer(), info);
  }
  const CheckpointInfo info = read_checkpoint_info(file);
  Model m(info.model_spec, info.in_sample, 10, kernels::Backend::OneDnn, /*seed=*/777);
  Trainer t(m, info.train, train);
  load_checkpoint(file, m, &t.optimizer());
  t.set_position(info.epoch, info.step);
  while (t.epoch() < c.epochs) t.train_epoch(nullptr);
  ASSERT_EQ(static_cast<size_t>(m.num_params()), straight.size());
  EXPECT_EQ(std::memcmp(m.params().data(), straight.data(), straight.size() * sizeof(float)), 0);
}

}  // namespace
}  // namespace batchscope

namespace batchscope {
namespace {

// Dense weight gradients go to the optimizer as factors (dy, x) instead of through the
// gradient buffer; the weights must come out as with the plain path. kSpec's dense layers
// are 16 x 100 and 10 x 16: rows and columns both off the register tile's edges.
TEST(Training, LowRankWeightGradientsMatchThePlainPath) {
  const Dataset train = make_synthetic(96, 1);
  for (int64_t batch : {1, 3, 8, 17, 48}) {
    for (auto kind : {OptimizerKind::Sgd, OptimizerKind::Adam}) {
      TrainConfig c = small_config();
      c.epochs = 1;
      c.batch_size = batch;
      c.optim.kind = kind;
      c.optim.lr = kind == OptimizerKind::Sgd ? 0.01 : 1e-3;
      c.optim.weight_decay = 1e-3;
      Model fused(kSpec, kIn, 10, kernels::Backend::OneDnn, c.seed);
      Model plain(kSpec, kIn, 10, kernels::Backend::OneDnn, c.seed);
      Trainer tf(fused, c, train), tp(plain, c, train);
      plain.set_defer_weight_grads(false);  // the trainer switched it on
      tf.train_epoch(nullptr);
      tp.train_epoch(nullptr);
      ASSERT_FALSE(fused.deferred_grads().empty()) << "batch " << batch << " took the plain path";
      EXPECT_TRUE(plain.deferred_grads().empty());
      for (int64_t i = 0; i < fused.num_params(); ++i)
        ASSERT_NEAR(fused.params()[i], plain.params()[i], 1e-5 + 1e-4 * std::fabs(plain.params()[i]))
            << "batch " << batch << " " << to_string(kind) << " param " << i;
    }
  }
}

// --grad-shards R: the step's gradient is the mean of R shard gradients, each the gradient of
// its shard's mean loss, summed in shard order. Bit for bit what separate passes over the
// shards give (the same kernels on the same shapes), which is what R data-parallel ranks
// compute; and close to the whole batch at once, which sums in another order.
TEST(Training, GradShardsAreTheMeanOfTheShardsGradientsBitForBit) {
  const Dataset train = make_synthetic(64, 1);
  for (auto b : {kernels::Backend::Reference, kernels::Backend::OneDnn}) {
    SCOPED_TRACE(b == kernels::Backend::OneDnn ? "onednn" : "reference");
    TrainConfig c = small_config();
    c.batch_size = 8;
    c.optim.lr = 0.0;  // the step leaves the weights alone: both models see the same ones
    c.grad_shards = 2;
    c.shard_norms = true;
    Model sharded(kSpec, kIn, 10, b, c.seed), by_hand(kSpec, kIn, 10, b, c.seed);
    Trainer ts(sharded, c, train);
    EXPECT_FALSE(sharded.defer_weight_grads()) << "shards must sum materialised gradients";
    TrainConfig half = c;
    half.batch_size = 4;
    half.grad_shards = 1;
    Trainer th(by_hand, half, train);
    by_hand.set_defer_weight_grads(false);
    const int64_t rows[8] = {3, 17, 0, 42, 8, 63, 21, 5};
    int64_t correct = 0, c0 = 0, c1 = 0;
    const double loss = ts.train_step(rows, &correct);
    const std::vector<float> got(sharded.grads().data(), sharded.grads().data() + sharded.num_params());
    const double l0 = th.train_step(rows, &c0);
    const std::vector<float> g0(by_hand.grads().data(), by_hand.grads().data() + by_hand.num_params());
    const double l1 = th.train_step(rows + 4, &c1);
    const float* g1 = by_hand.grads().data();
    for (size_t i = 0; i < got.size(); ++i)
      ASSERT_EQ(got[i], (g0[i] + g1[i]) * 0.5f) << "parameter " << i;
    EXPECT_EQ(loss, (l0 + l1) / 2);
    EXPECT_EQ(correct, c0 + c1);
    // The noise scale's two norms: each shard's gradient, and their mean.
    auto norm2 = [](const float* g, size_t n) {
      double s = 0;
      for (size_t i = 0; i < n; ++i) s += static_cast<double>(g[i]) * g[i];
      return s;
    };
    const ShardNorms& sn = ts.shard_norms();
    EXPECT_EQ(sn.shard_batch, 4);
    EXPECT_EQ(sn.batch, 8);
    const double want_small = (norm2(g0.data(), g0.size()) + norm2(g1, g0.size())) / 2;
    EXPECT_NEAR(sn.shard_norm2, want_small, 1e-12 * want_small);
    EXPECT_NEAR(sn.norm2, norm2(got.data(), got.size()), 1e-12 * sn.norm2);
    EXPECT_GT(sn.shard_norm2, sn.norm2);  // two different shards: averaging shrinks the norm
    EXPECT_GT(ts.shard_norm_seconds(), 0.0);
  }
}

TEST(Training, GradShardsTrainLikeTheWholeBatch) {
  const Dataset train = make_synthetic(96, 1);
  TrainConfig c = small_config();
  c.epochs = 1;
  const std::vector<float> whole = train_weights(kernels::Backend::OneDnn, c, train);
  for (int64_t shards : {2, 4, 16}) {
    c.grad_shards = shards;
    const std::vector<float> sharded = train_weights(kernels::Backend::OneDnn, c, train);
    double max_diff = 0;
    for (size_t i = 0; i < whole.size(); ++i) max_diff = std::max(max_diff, std::fabs(static_cast<double>(whole[i]) - sharded[i]));
    EXPECT_LT(max_diff, 1e-4) << shards << " shards";
    // Deterministic: the same shards twice give the same bits.
    EXPECT_EQ(train_weights(kernels::Backend::OneDnn, c, train), sharded) << shards << " shards";
  }
  c.grad_shards = 3;  // does not divide 16
  Model m(kSpec, kIn, 10, kernels::Backend::OneDnn, c.seed);
  try {
    Trainer t(m, c, train);
    FAIL() << "expected a UsageError";
  } catch (const UsageError& e) {
    // The library names the setting as the API spells it; the CLI renders it as its flag.
    EXPECT_EQ(e.option(), "grad_shards");
    EXPECT_NE(std::string(e.what()).find("3 does not divide the batch size 16"), std::string::npos) << e.what();
    EXPECT_EQ(option_message(e, /*flag_style=*/true).rfind("--grad-shards: 3 does not divide", 0), 0u);
    EXPECT_EQ(option_message(e, /*flag_style=*/false).rfind("grad_shards: 3 does not divide", 0), 0u);
  }
}

TEST(Training, OneCycleCyclesAdamBeta1StepByStepAndLearns) {
  const Dataset train = make_synthetic(320, 1), test = make_synthetic(200, 2);
  TrainConfig c = small_config();
  c.epochs = 2;
  c.optim.kind = OptimizerKind::Adam;
  c.optim.lr = 0.01;
  c.optim.beta1 = 0.7;
  c.schedule.kind = ScheduleKind::OneCycle;
  c.schedule.pct_start = 0.25;
  Model m(kSpec, kIn, 10, kernels::Backend::OneDnn, c.seed);
  Trainer t(m, c, train);
  const int64_t total = c.epochs * t.steps_per_epoch();
  std::vector<int64_t> rows(16);
  int64_t correct = 0;
  for (int64_t k = 0; k < total; ++k) {
    const std::vector<int64_t> perm = epoch_permutation(c.seed, k / t.steps_per_epoch(), train.images.n);
    t.train_step(perm.data() + (k % t.steps_per_epoch()) * 16, &correct);
    // The step used beta1 as OneCycleLR sets it for that step: 0.95 down to 0.85 and back.
    EXPECT_DOUBLE_EQ(t.optimizer().config().beta1, scheduled_momentum(c.schedule, 0.7, k, total)) << k;
  }
  EXPECT_NEAR(t.optimizer().config().beta1, 0.95, 1e-12);
  EXPECT_GT(evaluate(m, test, c.norm).accuracy, 0.5);
  // Without cycling beta1 stays as configured.
  c.schedule.cycle_momentum = false;
  Model m2(kSpec, kIn, 10, kernels::Backend::OneDnn, c.seed);
  Trainer t2(m2, c, train);
  t2.train_step(rows.data(), &correct);
  EXPECT_EQ(t2.optimizer().config().beta1, 0.7);
}

TEST(Training, OneCycleRefusesSettingsItCannotHonour) {
  const Dataset train = make_synthetic(64, 1);
  auto option_of = [&](TrainConfig c) -> std::string {
    Model m(kSpec, kIn, 10, kernels::Backend::Reference, c.seed);
    try {
      Trainer t(m, c, train);
    } catch (const UsageError& e) {
      return e.option();
    }
    return "accepted";
  };
  TrainConfig c = small_config();
  c.schedule.kind = ScheduleKind::OneCycle;
  EXPECT_EQ(option_of(c), "accepted");
  TrainConfig w = c;
  w.schedule.warmup_steps = 5;
  EXPECT_EQ(option_of(w), "warmup_steps");
  TrainConfig p = c;
  p.schedule.pct_start = 1.5;
  EXPECT_EQ(option_of(p), "pct_start");
  TrainConfig z = c;
  z.optim.momentum = 0;
  EXPECT_EQ(option_of(z), "cycle_momentum");
  z.schedule.cycle_momentum = false;
  EXPECT_EQ(option_of(z), "accepted");
}

}  // namespace
}  // namespace batchscope
