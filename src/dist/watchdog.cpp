// The progress watchdog of data-parallel ranks (see watchdog.h).
#include "dist/watchdog.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace batchscope::dist {

int64_t Watchdog::now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Watchdog::Watchdog(double timeout_seconds, int rank, int ranks)
    : timeout_(timeout_seconds), rank_(rank), ranks_(ranks), last_beat_ns_(now_ns()) {
  if (timeout_ > 0) thread_ = std::thread([this] { watch(); });
}

Watchdog::~Watchdog() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    quit_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Watchdog::beat(int64_t steps_done) {
  steps_.store(steps_done, std::memory_order_relaxed);
  last_beat_ns_.store(now_ns(), std::memory_order_relaxed);
}

void Watchdog::enter_collective() { collective_since_ns_.store(now_ns(), std::memory_order_relaxed); }
void Watchdog::leave_collective() { collective_since_ns_.store(0, std::memory_order_relaxed); }

void Watchdog::watch() {
  // Checks ten times per timeout (at most every second): the job ends within 1.1 timeouts.
  const auto period = std::chrono::duration<double>(std::min(1.0, timeout_ / 10));
  std::unique_lock<std::mutex> lock(mu_);
  int64_t last_check = now_ns();
  while (!cv_.wait_for(lock, period, [this] { return quit_; })) {
    const int64_t now = now_ns();
    // Woken far later than asked: this whole process was suspended (SIGSTOP, Ctrl-Z) or
    // starved, not waiting for anyone. Its own pause is not a lack of progress; the other
    // ranks' watchdogs judge it.
    if (1e-9 * static_cast<double>(now - last_check) > std::max(0.5 * timeout_, 2 * period.count())) {
      const int64_t gap = now - last_check;
      last_beat_ns_.fetch_add(gap, std::memory_order_relaxed);
      int64_t since = collective_since_ns_.load(std::memory_order_relaxed);
      if (since != 0) collective_since_ns_.compare_exchange_strong(since, since + gap);
    }
    last_check = now;
    const double idle = 1e-9 * static_cast<double>(now - last_beat_ns_.load(std::memory_order_relaxed));
    if (idle < timeout_) continue;
    const int64_t since = collective_since_ns_.load(std::memory_order_relaxed);
    const long long step = static_cast<long long>(steps_.load(std::memory_order_relaxed)) + 1;
    if (since != 0)
      std::fprintf(stderr,
                   "error: watchdog: rank %d of %d has waited %.0f s in step %lld's gradient allreduce; another rank "
                   "stopped making progress (stopped, swapping or stuck); ending the job (--watchdog %g s)\n",
                   rank_, ranks_, 1e-9 * static_cast<double>(now - since), step, timeout_);
    else
      std::fprintf(stderr,
                   "error: watchdog: rank %d of %d has not finished step %lld in %.0f s; this rank stopped making "
                   "progress (swapping, stuck in I/O, or far slower than --watchdog %g s allows); ending the job\n",
                   rank_, ranks_, step, idle, timeout_);
    std::fflush(stderr);
    // Not MPI_Abort: MPI is the main thread's alone, and that thread is the one stuck. A
    // rank that exits non-zero makes mpirun end the others; checkpoints are written
    // atomically, so the last one stays whole.
    std::_Exit(1);
  }
}

}  // namespace batchscope::dist
