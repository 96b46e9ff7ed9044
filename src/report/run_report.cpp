// Rendering of train's epoch lines and eval's report (run_report.h).
#include "report/run_report.h"

#include "report/table.h"

namespace batchscope::report {

std::string epoch_line(const EpochRecord& r, int64_t epochs) {
  return fmt("epoch %lld/%lld: train loss %.4f acc %.2f%% | test loss %.4f acc %.2f%% | %.1f s, %.0f img/s",
             static_cast<long long>(r.epoch), static_cast<long long>(epochs), r.train_loss, 100 * r.train_accuracy,
             r.test_loss, 100 * r.test_accuracy, r.seconds, r.images_per_second);
}

nlohmann::ordered_json history_json(const std::vector<EpochRecord>& records) {
  nlohmann::ordered_json history = nlohmann::ordered_json::array();
  for (const EpochRecord& r : records)
    history.push_back({{"epoch", r.epoch}, {"train_loss", r.train_loss}, {"train_accuracy", r.train_accuracy},
                       {"test_loss", r.test_loss}, {"test_accuracy", r.test_accuracy}, {"seconds", r.seconds},
                       {"images_per_second", r.images_per_second}});
  return history;
}

std::string eval_text(const EvalReport& e) {
  const EvalResult& r = e.result;
  const int64_t L = r.num_classes;
  std::string s = fmt("checkpoint %s (epoch %lld)\nmodel %s\ntest set %s: %lld images\n\n", e.checkpoint.c_str(),
                      static_cast<long long>(e.checkpoint_epoch), e.model_spec.c_str(), e.test_name.c_str(),
                      static_cast<long long>(r.n));
  s += fmt("accuracy %.2f%% (%lld/%lld), loss %.4f\n\n", 100 * r.accuracy,
           static_cast<long long>(r.accuracy * static_cast<double>(r.n) + 0.5), static_cast<long long>(r.n), r.loss);
  s += "class  accuracy\n";
  for (int64_t c = 0; c < L; ++c) s += fmt("%5lld  %6.2f%%\n", static_cast<long long>(c), 100 * r.class_accuracy(c));
  s += "\nconfusion matrix (rows: true class, columns: predicted)\n     ";
  for (int64_t j = 0; j < L; ++j) s += fmt("%6lld", static_cast<long long>(j));
  s += "\n";
  for (int64_t i = 0; i < L; ++i) {
    s += fmt("%5lld", static_cast<long long>(i));
    for (int64_t j = 0; j < L; ++j) s += fmt("%6lld", static_cast<long long>(r.confusion[static_cast<size_t>(i * L + j)]));
    s += "\n";
  }
  return s;
}

nlohmann::ordered_json eval_json(const EvalReport& e) {
  const EvalResult& r = e.result;
  const int64_t L = r.num_classes;
  nlohmann::ordered_json per_class = nlohmann::ordered_json::array(), confusion = nlohmann::ordered_json::array();
  for (int64_t c = 0; c < L; ++c) per_class.push_back(r.class_accuracy(c));
  for (int64_t i = 0; i < L; ++i)
    confusion.push_back(std::vector<int64_t>(r.confusion.begin() + i * L, r.confusion.begin() + (i + 1) * L));
  return {{"checkpoint", e.checkpoint}, {"model", e.model_spec}, {"images", r.n}, {"accuracy", r.accuracy},
          {"loss", r.loss}, {"class_accuracy", per_class}, {"confusion", confusion}};
}

}  // namespace batchscope::report
