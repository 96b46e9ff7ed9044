// Progress bar implementation.
#include "cli/progress.h"

#include <unistd.h>

#include <cstdio>
#include <string>

namespace batchscope::cli {

Progress::Progress(int64_t epochs, bool quiet)
    : epochs_(epochs), quiet_(quiet), tty_(isatty(STDERR_FILENO) != 0) {}

namespace {
std::string eta_str(double secs) {
  char b[32];
  const int s = static_cast<int>(secs + 0.5);
  std::snprintf(b, sizeof b, "%d:%02d", s / 60, s % 60);
  return b;
}
}  // namespace

void Progress::update(const StepProgress& p) {
  if (quiet_) return;
  const auto now = std::chrono::steady_clock::now();
  if (!in_epoch_) {
    in_epoch_ = true;
    epoch_start_ = now;
    last_decile_ = 0;
  }
  const double frac = static_cast<double>(p.step_in_epoch) / static_cast<double>(p.steps_per_epoch);
  const double elapsed = std::chrono::duration<double>(now - epoch_start_).count();
  const double eta = frac > 0 ? elapsed * (1 - frac) / frac : 0;
  const bool last = p.step_in_epoch == p.steps_per_epoch;
  if (tty_) {
    if (!last && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    const int width = 24, filled = static_cast<int>(frac * width);
    std::string bar(static_cast<size_t>(filled), '#');
    bar.resize(width, '.');
    std::fprintf(stderr,
                 "\repoch %lld/%lld [%s] %lld/%lld loss %.4f acc %.2f%% %.0f img/s ETA %s  ",
                 static_cast<long long>(p.epoch + 1), static_cast<long long>(epochs_), bar.c_str(),
                 static_cast<long long>(p.step_in_epoch), static_cast<long long>(p.steps_per_epoch),
                 p.loss, 100 * p.accuracy, p.images_per_second, eta_str(eta).c_str());
    std::fflush(stderr);
  } else {
    const int64_t decile = static_cast<int64_t>(frac * 10);
    if (decile == last_decile_ && !last) return;
    last_decile_ = decile;
    std::fprintf(stderr, "epoch %lld/%lld step %lld/%lld loss %.4f acc %.2f%% %.0f img/s ETA %s\n",
                 static_cast<long long>(p.epoch + 1), static_cast<long long>(epochs_),
                 static_cast<long long>(p.step_in_epoch), static_cast<long long>(p.steps_per_epoch),
                 p.loss, 100 * p.accuracy, p.images_per_second, eta_str(eta).c_str());
  }
}

void Progress::end_epoch() {
  if (!quiet_ && tty_ && in_epoch_) std::fputc('\n', stderr);
  in_epoch_ = false;
}

}  // namespace batchscope::cli
