// A rank that stops making progress (stopped, swapping, stuck in I/O, or waiting in an
// allreduce for one that is) would hang the whole data-parallel job silently: MPI itself
// never times a collective out. The watchdog is a thread that ends this rank, and with it
// the job (mpirun stops every rank when one exits non-zero), once no step has finished for
// `timeout` seconds, with one line saying which rank saw it and where it was waiting.
//   dist::Watchdog dog(120, rank, ranks);
//   dog.enter_collective(); allreduce(...); dog.leave_collective();
//   dog.beat(step);                       // after every step
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

namespace batchscope::dist {

class Watchdog {
 public:
  // timeout_seconds <= 0: no thread, every call a no-op.
  Watchdog(double timeout_seconds, int rank, int ranks);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  void beat(int64_t steps_done);  // progress: the clock starts again
  void enter_collective();        // waiting on the other ranks from here...
  void leave_collective();        // ...to here

 private:
  void watch();
  static int64_t now_ns();

  double timeout_;
  int rank_, ranks_;
  std::atomic<int64_t> last_beat_ns_, collective_since_ns_{0}, steps_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool quit_ = false;
  std::thread thread_;
};

}  // namespace batchscope::dist
