// The reports of `batchscope train` and `batchscope eval`: the line after each epoch, the
// evaluation's text (accuracy, per class, confusion matrix), and their JSON objects.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "batchscope/trainer.h"

namespace batchscope::report {

struct EpochRecord {
  int64_t epoch = 0;  // 1-based, completed
  double train_loss = 0, train_accuracy = 0, test_loss = 0, test_accuracy = 0, seconds = 0,
         images_per_second = 0;
};
// "epoch 1/5: train loss 0.2103 acc 93.61% | test loss 0.0561 acc 98.21% | 41.2 s, 1456 img/s"
std::string epoch_line(const EpochRecord& r, int64_t epochs);
nlohmann::ordered_json history_json(const std::vector<EpochRecord>& records);

struct EvalReport {
  std::string checkpoint, model_spec, test_name;
  int64_t checkpoint_epoch = 0;
  const EvalResult& result;
};
std::string eval_text(const EvalReport& e);
nlohmann::ordered_json eval_json(const EvalReport& e);

}  // namespace batchscope::report
