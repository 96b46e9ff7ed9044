// Data-parallel communication: the MPI world this process belongs to (OpenMPI's mpirun, or
// any MPI launcher), or a world of one when it was started on its own.
//   dist::World w = dist::init(&argc, &argv);   // before anything else reads or writes
//   dist::allreduce_sum(grads, n);               // every rank, same n, same order
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace batchscope::dist {

struct World {
  int rank = 0, size = 1;
  bool parallel() const { return size > 1; }
};

// Starts MPI when the launcher's environment says this is one of several ranks; a single
// process (or mpirun -np 1) stays a world of one and never touches MPI. Throws UsageError
// when launched as several ranks by a build without MPI: independent runs would overwrite
// each other's outputs.
World init(int* argc, char*** argv);
const World& world();
void finalize();

// In place, summed over all ranks; every rank passes the same n.
void allreduce_sum(float* data, int64_t n);
void allreduce_sum(double* data, int64_t n);
// Rank root's bytes to every rank.
void broadcast(void* data, int64_t bytes, int root = 0);
// Every rank's value, by rank, on every rank.
std::vector<uint64_t> allgather(uint64_t value);
// Ends every rank with this exit code (MPI_Abort): for an error on one rank that the others,
// waiting in a collective, would never learn of.
[[noreturn]] void abort_all(int code);

// FNV-1a, for fingerprints of settings and data compared across ranks.
uint64_t fingerprint(const void* data, size_t bytes, uint64_t h = 1469598103934665603ull);
inline uint64_t fingerprint(const std::string& s, uint64_t h = 1469598103934665603ull) {
  return fingerprint(s.data(), s.size(), h);
}

}  // namespace batchscope::dist
