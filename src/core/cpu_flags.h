// Per-thread CPU set-up for the threads that run kernels: flush-to-zero and pinning.
// Flush-to-zero / denormals-are-zero:
// Why: SGD momentum buffers of weights whose gradient is zero (dead ReLU units) decay
// geometrically into the subnormal range, where x86 arithmetic runs ~100x slower; at batch 1
// this made the optimizer step 35% of the time. PyTorch offers the same switch
// (torch.set_flush_denormal). Values below 1.2e-38 do not matter to training.
#pragma once
#include <sched.h>

#include <vector>

namespace batchscope {

// Sets FTZ and DAZ on the calling thread and on every OpenMP worker thread.
void enable_flush_denormals();

// The CPUs of the process's affinity mask as it was when the program was loaded, ascending
// (empty if it could not be read). Read before pin_threads() narrows anything: afterwards
// sched_getaffinity on the main thread sees only the one CPU it was pinned to.
const std::vector<int>& process_cpus();

// Pins OpenMP thread i to the i-th CPU of process_cpus() (round robin), the main thread too.
// Why: on this VM the scheduler sometimes stacks two busy threads on one core, and an
// OpenMP barrier then waits a whole time slice: throughput dropped 10x. Returns false (and
// pins nothing) when the mask holds a single CPU. first_slot shifts the round robin: rank k
// of several processes sharing one mask (mpirun --bind-to none) starts at k x its threads,
// or every rank would pin its main thread to the same first CPU and take turns on it.
bool pin_threads(int first_slot = 0);

// While alive, the calling thread's mask is the whole start-up mask again (process_cpus()),
// so that a child it starts (popen, fork + exec) inherits every CPU and not the one CPU
// pin_threads() gave this thread: a peer or an mpirun rank would otherwise be confined to it.
// Restores the thread's own mask on destruction.
class UnpinnedForChildren {
 public:
  UnpinnedForChildren();
  ~UnpinnedForChildren();
  UnpinnedForChildren(const UnpinnedForChildren&) = delete;
  UnpinnedForChildren& operator=(const UnpinnedForChildren&) = delete;

 private:
  cpu_set_t saved_;
  bool restore_ = false;
};

}  // namespace batchscope
