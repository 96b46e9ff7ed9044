// `batchscope eval`: test-set accuracy, per-class accuracy and the confusion matrix of a
// checkpoint; the model and its input normalisation come from the checkpoint.
//   batchscope eval --checkpoint model.safetensors --data data/mnist
#include <cstdio>

#include <nlohmann/json.hpp>

#include "batchscope/checkpoint.h"
#include "batchscope/error.h"
#include "batchscope/trainer.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "kernels/kernels.h"

namespace batchscope::cli {

int cmd_eval(int argc, char** argv) {
  Flags f("eval", "--checkpoint FILE [flags]",
          "Evaluates a checkpoint on a test set: loss, accuracy, per-class accuracy and the "
          "confusion matrix (rows: true class, columns: predicted).");
  f.add("checkpoint", "", "checkpoint file written by 'batchscope train --save'");
  add_data_flags(f, /*with_train=*/false);
  f.add("batch-size", "500", "images per forward pass");
  add_compute_flags(f);
  f.add_bool("json", "print one JSON object on stdout");
  if (!f.parse(argc, argv)) return 0;
  if (!f.given("checkpoint")) throw UsageError("--checkpoint: required (a .safetensors file)");
  const Compute compute = apply_compute_flags(f);
  const int64_t batch = f.i64("batch-size", 1, 1 << 20);

  const std::string ckpt = f.str("checkpoint");
  CheckpointInfo info = read_checkpoint_info(ckpt);
  Dataset test = load_test_set(f);
  const Shape in_sample{1, test.images.h, test.images.w};
  if (!(info.in_sample == in_sample))
    throw DataError("'" + test.name + "' holds " + in_sample.str() + " images; the checkpoint '" +
                    ckpt + "' expects " + info.in_sample.str());
  Model model(info.model_spec, info.in_sample, info.num_classes, *compute.ops, 0);
  load_checkpoint(ckpt, model, nullptr);
  EvalResult r = evaluate(model, test, info.train.norm, batch);
  const int64_t L = r.num_classes;

  if (f.boolean("json")) {
    nlohmann::ordered_json per_class = nlohmann::ordered_json::array(), confusion = nlohmann::ordered_json::array();
    for (int64_t c = 0; c < L; ++c) per_class.push_back(r.class_accuracy(c));
    for (int64_t i = 0; i < L; ++i)
      confusion.push_back(std::vector<int64_t>(r.confusion.begin() + i * L, r.confusion.begin() + (i + 1) * L));
    const nlohmann::ordered_json j = {{"checkpoint", ckpt}, {"model", model.spec()}, {"images", r.n},
                                      {"accuracy", r.accuracy}, {"loss", r.loss},
                                      {"class_accuracy", per_class}, {"confusion", confusion}};
    print_json(j);
    return 0;
  }
  std::printf("checkpoint %s (epoch %lld)\nmodel %s\ntest set %s: %lld images\n\n",
              ckpt.c_str(), static_cast<long long>(info.epoch), model.spec().c_str(),
              test.name.c_str(), static_cast<long long>(r.n));
  std::printf("accuracy %.2f%% (%lld/%lld), loss %.4f\n\n", 100 * r.accuracy,
              static_cast<long long>(r.accuracy * static_cast<double>(r.n) + 0.5),
              static_cast<long long>(r.n), r.loss);
  std::printf("class  accuracy\n");
  for (int64_t c = 0; c < L; ++c) std::printf("%5lld  %6.2f%%\n", static_cast<long long>(c), 100 * r.class_accuracy(c));
  std::printf("\nconfusion matrix (rows: true class, columns: predicted)\n     ");
  for (int64_t j = 0; j < L; ++j) std::printf("%6lld", static_cast<long long>(j));
  std::printf("\n");
  for (int64_t i = 0; i < L; ++i) {
    std::printf("%5lld", static_cast<long long>(i));
    for (int64_t j = 0; j < L; ++j)
      std::printf("%6lld", static_cast<long long>(r.confusion[static_cast<size_t>(i * L + j)]));
    std::printf("\n");
  }
  return 0;
}

}  // namespace batchscope::cli
