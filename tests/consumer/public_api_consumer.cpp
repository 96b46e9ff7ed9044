// A program built against include/batchscope/ alone, as a user of the installed library
// builds one: its target links batchscope::batchscope and has no other include folder, so
// any public header that reached into src/ would fail this build. It trains a small model
// on a learnable synthetic set (class c: a bright 4x4 square at position c) and checks that
// the test accuracy is well above chance.
#include <cstdio>

#include "batchscope/checkpoint.h"
#include "batchscope/error.h"
#include "batchscope/idx.h"
#include "batchscope/model.h"
#include "batchscope/optimizer.h"
#include "batchscope/tensor.h"
#include "batchscope/trainer.h"

namespace {

batchscope::Dataset squares(int64_t n) {
  batchscope::Dataset d;
  d.name = "squares";
  d.images = {n, 16, 16, std::vector<uint8_t>(static_cast<size_t>(n * 256), 10)};
  d.labels = {n, std::vector<uint8_t>(static_cast<size_t>(n))};
  for (int64_t i = 0; i < n; ++i) {
    const int c = static_cast<int>((i * 7) % 10);
    d.labels.labels[static_cast<size_t>(i)] = static_cast<uint8_t>(c);
    const int y0 = 2 + 6 * (c / 5), x0 = 1 + 3 * (c % 5);
    for (int y = y0; y < y0 + 4; ++y)
      for (int x = x0; x < x0 + 4; ++x) d.images.pixels[static_cast<size_t>(i * 256 + y * 16 + x)] = 240;
  }
  return d;
}

}  // namespace

int main() {
  using namespace batchscope;
  try {
    const Dataset train = squares(400), test = squares(100);
    Model model("conv2d:4:3,relu,maxpool2d:2,flatten,dense:10", Shape{1, 16, 16}, 10, kernels::Backend::OneDnn, 1);
    TrainConfig cfg;
    cfg.epochs = 3;
    cfg.batch_size = 20;
    cfg.optim.lr = default_learning_rate(cfg.optim.kind, cfg.batch_size);
    Trainer trainer(model, cfg, train);
    while (trainer.epoch() < cfg.epochs) trainer.train_epoch({});
    const EvalResult r = evaluate(model, test, cfg.norm);
    std::printf("public API consumer: %lld parameters, test accuracy %.3f after %lld steps\n",
                static_cast<long long>(model.num_params()), r.accuracy, static_cast<long long>(trainer.step()));
    return r.accuracy > 0.5 ? 0 : 1;
  } catch (const Error& e) {
    std::fprintf(stderr, "public API consumer: %s\n", e.what());
    return 1;
  }
}
