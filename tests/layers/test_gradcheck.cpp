// Finite-difference gradient check of every layer in layer_list.h (each over its
// test_configs(), with stride and padding variants) on every kernel back-end, and of the
// fused softmax cross-entropy. Loss = Σ y·r for a fixed random r, so dy = r.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "batchscope/model.h"
#include "kernels/kernels.h"
#include "layers/conv2d.h"
#include "layers/dense.h"
#include "layers/dropout.h"
#include "layers/flatten.h"
#include "layers/maxpool2d.h"
#include "layers/relu.h"

namespace batchscope {
namespace {

Shape batched(int64_t n, const Shape& sample) {
  int64_t dims[Shape::kMaxRank];
  dims[0] = n;
  for (int d = 0; d < sample.rank(); ++d) dims[d + 1] = sample[d];
  return Shape::from_span({dims, static_cast<size_t>(sample.rank() + 1)});
}

// Inputs spaced at least 0.02 apart and away from 0, so a ±eps nudge never crosses a ReLU
// kink or changes a max-pool winner (the finite difference would be meaningless there).
void fill_spaced(Tensor& t, std::mt19937& rng) {
  const int64_t n = t.numel();
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
  std::shuffle(order.begin(), order.end(), rng);
  for (int64_t i = 0; i < n; ++i) {
    float v = 0.05f + 0.02f * static_cast<float>(i);
    t[order[static_cast<size_t>(i)]] = (i % 2 ? v : -v) / (1.0f + 0.002f * static_cast<float>(n));
  }
}

double loss_of(const Tensor& y, const std::vector<float>& r) {
  double s = 0;
  for (int64_t i = 0; i < y.numel(); ++i) s += static_cast<double>(y[i]) * r[static_cast<size_t>(i)];
  return s;
}

void check_layer(const std::string& token, const Shape& in_sample, const kernels::OpTable& ops) {
  SCOPED_TRACE("layer " + token + " input " + in_sample.str() + " impl " + std::string(ops.name));
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  auto layer = make_layer(token);
  layer->set_ops(&ops);
  const Shape out_sample = layer->setup(in_sample);
  const int64_t N = 2;
  layer->reshape(N);
  // Parameters live in test-owned buffers, as a model's flat buffer would hold them.
  std::vector<Tensor> pvals, pgrads;
  for (auto& p : layer->params()) {
    pvals.emplace_back(p.shape);
    pgrads.emplace_back(p.shape);
  }
  size_t k = 0;
  for (auto& p : layer->params()) {
    p.value = Tensor::view(pvals[k].data(), p.shape);
    p.grad = Tensor::view(pgrads[k].data(), p.shape);
    for (int64_t i = 0; i < p.shape.numel(); ++i) p.value[i] = 0.5f * u(rng);
    ++k;
  }
  Tensor x(batched(N, in_sample)), y(batched(N, out_sample)), dx(batched(N, in_sample));
  fill_spaced(x, rng);
  std::vector<float> r(static_cast<size_t>(y.numel()));
  for (auto& v : r) v = u(rng);
  Tensor dy = Tensor::view(r.data(), y.shape());
  const StepContext ctx{/*training=*/true, /*seed=*/7};

  layer->forward(x, y, ctx);
  for (auto& g : pgrads) g.fill(0.f);
  dx.fill(std::nanf(""));
  layer->backward(x, y, dy, dx);

  const float eps = 4e-3f;
  auto numeric = [&](float* slot) {
    const float keep = *slot;
    *slot = keep + eps;
    layer->forward(x, y, ctx);
    const double lp = loss_of(y, r);
    *slot = keep - eps;
    layer->forward(x, y, ctx);
    const double lm = loss_of(y, r);
    *slot = keep;
    return (lp - lm) / (2.0 * eps);
  };
  auto expect_close = [&](double got, double num, const std::string& what, int64_t i) {
    EXPECT_NEAR(got, num, 2e-3 + 2e-3 * std::fabs(num)) << what << " index " << i;
  };
  for (int64_t i = 0; i < x.numel(); ++i) expect_close(dx[i], numeric(&x[i]), "dx", i);
  k = 0;
  for (auto& p : layer->params()) {
    // Backward accumulates: a second backward must double the gradient.
    for (int64_t i = 0; i < p.shape.numel(); ++i)
      expect_close(p.grad[i], numeric(&p.value[i]), "d" + p.name, i);
    ++k;
  }
  if (!layer->params().empty()) {
    std::vector<float> once(pgrads[0].span().begin(), pgrads[0].span().end());
    layer->forward(x, y, ctx);
    layer->backward(x, y, dy, dx);
    for (int64_t i = 0; i < pgrads[0].numel(); ++i)
      ASSERT_FLOAT_EQ(pgrads[0][i], 2 * once[static_cast<size_t>(i)]) << "grads must accumulate";
  }
}

TEST(GradCheck, EveryLayerOnEveryBackend) {
  const std::vector<const kernels::OpTable*> tables = kernels::supported_tables();
  int checked = 0;
  for (size_t t = 0; t < tables.size(); ++t) {
#define BS_LAYER(Class, kName)                                    \
  for (const auto& cfg : Class::test_configs()) {                 \
    check_layer(cfg.token, cfg.in_sample, *tables[t]);            \
    ++checked;                                                    \
  }
#include "layers/layer_list.h"
#undef BS_LAYER
  }
  EXPECT_GE(checked, 2 * 6);
}

TEST(GradCheck, SoftmaxCrossEntropy) {
  const std::vector<const kernels::OpTable*> tables = kernels::supported_tables();
  for (size_t t = 0; t < tables.size(); ++t) {
    const auto& ops = *tables[t];
    SCOPED_TRACE(std::string(ops.name));
    const int64_t N = 3, L = 5;
    std::vector<float> logits = {0.1f, -1.f, 2.f, 0.3f, 0.f, 1.f, 1.f, 1.f, 1.f, 1.2f,
                                 -3.f, 4.f, 0.5f, -0.5f, 2.5f};
    std::vector<int32_t> labels = {2, 0, 4};
    std::vector<float> probs(N * L), dlogits(N * L);
    ops.softmax_xent_fwd(probs.data(), logits.data(), labels.data(), N, L);
    ops.softmax_xent_bwd(dlogits.data(), probs.data(), labels.data(), N, L);
    const float eps = 1e-3f;
    for (int64_t i = 0; i < N * L; ++i) {
      const float keep = logits[static_cast<size_t>(i)];
      logits[static_cast<size_t>(i)] = keep + eps;
      const double lp = ops.softmax_xent_fwd(probs.data(), logits.data(), labels.data(), N, L);
      logits[static_cast<size_t>(i)] = keep - eps;
      const double lm = ops.softmax_xent_fwd(probs.data(), logits.data(), labels.data(), N, L);
      logits[static_cast<size_t>(i)] = keep;
      EXPECT_NEAR(dlogits[static_cast<size_t>(i)], (lp - lm) / (2 * eps), 1e-3) << "index " << i;
    }
  }
}

// The whole network's backward agrees with finite differences of the whole model's loss.
// The model is first sized for one image and run, then resized for two: views (flatten,
// fused ReLU) must follow their buffers across a reshape to a larger batch.
void check_whole_model(const std::string& spec, const Shape& in, int64_t classes,
                       kernels::Backend backend = kernels::Backend::Reference) {
  SCOPED_TRACE(spec + (backend == kernels::Backend::OneDnn ? " (onednn)" : " (reference)"));
  Model m(spec, in, classes, backend, 3);
  const StepContext ctx{true, 11};
  std::mt19937 rng(5);
  m.reshape(1);
  fill_spaced(m.input(), rng);
  m.forward(ctx);
  const int64_t N = 2;
  m.reshape(N);
  fill_spaced(m.input(), rng);
  const std::vector<int32_t> labels = {1, static_cast<int32_t>(classes - 1)};
  std::vector<float> probs(static_cast<size_t>(N * classes)), dl(static_cast<size_t>(N * classes));
  auto loss = [&]() {
    const Tensor& lg = m.forward(ctx);
    return m.ops().softmax_xent_fwd(probs.data(), lg.data(), labels.data(), N, classes);
  };
  loss();
  m.ops().softmax_xent_bwd(dl.data(), probs.data(), labels.data(), N, classes);
  m.zero_grad();
  m.backward(Tensor::view(dl.data(), Shape{N, classes}));
  const float eps = 2e-3f;
  for (int64_t i = 0; i < m.num_params(); i += 7) {
    float& w = m.params()[i];
    const float keep = w;
    w = keep + eps;
    const double lp = loss();
    w = keep - eps;
    const double lm = loss();
    w = keep;
    EXPECT_NEAR(m.grads()[i], (lp - lm) / (2 * eps), 2e-3) << "param " << i;
  }
}

TEST(GradCheck, WholeModelThroughEveryLayerKind) {
  check_whole_model("conv2d:3:3:pad=1:stride=2,relu,maxpool2d:2,dropout:0.25,flatten,dense:5,relu,dense:4",
                    Shape{2, 9, 9}, 4);
}

// Flatten is a view inside a model: first (its input is the image), and last (dlogits itself
// must reach the layer before it).
TEST(GradCheck, WholeModelWithFlattenFirstAndLast) {
  check_whole_model("flatten,dense:6,relu,dense:4", Shape{2, 3, 3}, 4);
  check_whole_model("conv2d:4:3,relu,conv2d:3:3,flatten", Shape{1, 5, 5}, 3);
}

// A first convolution over one channel does the backward of the ReLU after it inside its
// weight gradient; the fold is made where it applies, and the whole model's gradient still
// agrees with finite differences, on both back-ends (the fast one with channel-blocked
// activations between the convolutions, so its own kernel runs). No max-pool here: its ties
// and kinks after two ReLUs put finite differences of this size off by more than the bound.
TEST(GradCheck, WholeModelWithTheFirstReluBackwardFolded) {
  const std::string spec = "conv2d:16:3,relu,conv2d:4:3,flatten,dense:4";
  for (auto backend : {kernels::Backend::Reference, kernels::Backend::OneDnn}) {
    const Model m(spec, Shape{1, 7, 7}, 4, backend, 3);
    EXPECT_EQ(m.relu_backward_absorber(1), 0) << "the first convolution takes the ReLU's backward";
    if (backend == kernels::Backend::OneDnn) {
      EXPECT_GT(m.activation_block(1), 0) << "conv1's output is blocked";
    }
    check_whole_model(spec, Shape{1, 7, 7}, 4, backend);
  }
  // Before a max-pool the ReLU's backward stays with the max-pool.
  const Model pooled("conv2d:16:3,relu,maxpool2d:2,flatten,dense:4", Shape{1, 8, 8}, 4, kernels::Backend::OneDnn, 3);
  EXPECT_EQ(pooled.relu_backward_absorber(1), 2);
  // Two input channels: the first convolution would need a separate mask pass anyway.
  const Model two("conv2d:16:3,relu,flatten,dense:4", Shape{2, 6, 6}, 4, kernels::Backend::OneDnn, 3);
  EXPECT_EQ(two.relu_backward_absorber(1), -1);
  EXPECT_FALSE(two.relu_backward_folded(1));
}

}  // namespace
}  // namespace batchscope
