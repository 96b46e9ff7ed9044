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
#include "report/run_report.h"
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
  const report::EvalReport rep{ckpt, model.spec(), test.name, info.epoch, r};
  if (f.boolean("json")) print_json(report::eval_json(rep));
  else std::fputs(report::eval_text(rep).c_str(), stdout);
  return 0;
}

}  // namespace batchscope::cli
