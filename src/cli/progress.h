// Training progress on stderr: a live one-line bar on a terminal; on a pipe or file, a plain
// line every tenth of an epoch so logs stay readable.
#pragma once
#include <chrono>
#include <cstdint>

#include "batchscope/trainer.h"

namespace batchscope::cli {

class Progress {
 public:
  Progress(int64_t epochs, bool quiet);
  void update(const StepProgress& p);
  void end_epoch();  // finishes the bar's line

 private:
  int64_t epochs_;
  bool quiet_, tty_;
  int64_t last_decile_ = -1;
  std::chrono::steady_clock::time_point last_draw_{}, epoch_start_{};
  bool in_epoch_ = false;
};

}  // namespace batchscope::cli
