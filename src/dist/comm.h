// Data-parallel communication: the MPI world this process belongs to (OpenMPI's mpirun, or
// any MPI launcher), or a world of one when it was started on its own.
//   dist::World w = dist::init(&argc, &argv);   // before anything else reads or writes
//   dist::allreduce_sum(grads, n);               // every rank, same n, same order
#pragma once
#include <cstdint>
#include <string>
#include <utility>
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
// This rank's index among the ranks on its machine (the launcher's OMPI_COMM_WORLD_LOCAL_RANK
// or MPI_LOCALRANKID); the world rank if the launcher does not say; 0 for a world of one.
int local_rank();
void finalize();

// In place, summed over all ranks; every rank passes the same n.
void allreduce_sum(float* data, int64_t n);
void allreduce_sum(double* data, int64_t n);
// A training step's allreduce (Trainer::Allreduce): the n gradient floats, then the k
// statistics riding along, each summed over all ranks in place.
void allreduce_step(float* grads, int64_t n, double* stats, int64_t k);
// Returns when every rank has called it.
void barrier();
// Before the first collective of a data-parallel command: every rank compares each named
// value with rank 0's. At the first that differs, rank 0 prints one line naming the rank and
// the field, and every rank exits 2 (all see the same comparison, so none is left waiting).
void check_ranks_agree(const std::vector<std::pair<std::string, std::string>>& fields);
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
