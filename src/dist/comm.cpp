// dist::World over MPI when built with it (BATCHSCOPE_HAVE_MPI), a world of one otherwise.
#include "dist/comm.h"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "batchscope/error.h"

#if BATCHSCOPE_HAVE_MPI
#include <mpi.h>
#endif

namespace batchscope::dist {

namespace {

World g_world;
[[maybe_unused]] bool g_mpi = false;  // MPI_Init done and MPI_Finalize not yet

// The launcher's world size and this rank from its environment: OpenMPI's mpirun
// (OMPI_COMM_WORLD_SIZE), MPICH/Hydra and Intel MPI (PMI_SIZE). Size 0: no launcher.
struct Launch {
  long size = 0, rank = 0;
  const char* var = "";
};
Launch launch() {
  const std::pair<const char*, const char*> vars[] = {{"OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK"},
                                                       {"PMI_SIZE", "PMI_RANK"}};
  for (auto [size_var, rank_var] : vars)
    if (const char* v = std::getenv(size_var)) {
      const char* r = std::getenv(rank_var);
      return {std::strtol(v, nullptr, 10), r ? std::strtol(r, nullptr, 10) : 0, size_var};
    }
  return {};
}

// MPI counts are int: larger buffers go in pieces.
constexpr int64_t kPiece = INT_MAX / 8;

}  // namespace

World init(int* argc, char*** argv) {
  const Launch l = launch();
  if (l.size <= 1) return g_world = World{};
#if BATCHSCOPE_HAVE_MPI
  int provided = 0;
  // Only the main thread calls MPI; OpenMP threads never do.
  MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
  g_mpi = true;
  MPI_Comm_rank(MPI_COMM_WORLD, &g_world.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_world.size);
  return g_world;
#else
  (void)argc;
  (void)argv;
  throw UsageError("batchscope was started as rank " + std::to_string(l.rank) + " of " + std::to_string(l.size) +
                   " MPI processes (" + l.var + "=" + std::to_string(l.size) +
                   "), but this build has no MPI support (install libopenmpi-dev and rebuild): " +
                   std::to_string(l.size) + " independent runs would overwrite each other's outputs; run one "
                   "process (without mpirun, or with -np 1)");
#endif
}

const World& world() { return g_world; }

int local_rank() {
  if (!g_world.parallel()) return 0;
  for (const char* var : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "PMI_LOCAL_RANK"})
    if (const char* v = std::getenv(var)) return static_cast<int>(std::strtol(v, nullptr, 10));
  return g_world.rank;
}

void finalize() {
#if BATCHSCOPE_HAVE_MPI
  if (g_mpi) MPI_Finalize();
  g_mpi = false;
#endif
}

namespace {

#if BATCHSCOPE_HAVE_MPI
MPI_Datatype mpi_type(const float*) { return MPI_FLOAT; }
MPI_Datatype mpi_type(const double*) { return MPI_DOUBLE; }
#endif

// The one allreduce both element types go through.
template <typename T>
void sum_in_place([[maybe_unused]] T* data, [[maybe_unused]] int64_t n) {
  if (!g_world.parallel()) return;
#if BATCHSCOPE_HAVE_MPI
  for (int64_t o = 0; o < n; o += kPiece)
    MPI_Allreduce(MPI_IN_PLACE, data + o, static_cast<int>(std::min(kPiece, n - o)), mpi_type(data), MPI_SUM,
                  MPI_COMM_WORLD);
#endif
}

}  // namespace

void allreduce_sum(float* data, int64_t n) { sum_in_place(data, n); }
void allreduce_sum(double* data, int64_t n) { sum_in_place(data, n); }

void allreduce_step(float* grads, int64_t n, double* stats, int64_t k) {
  allreduce_sum(grads, n);
  allreduce_sum(stats, k);
}

void broadcast(void* data, int64_t bytes, int root) {
  if (!g_world.parallel()) return;
#if BATCHSCOPE_HAVE_MPI
  char* p = static_cast<char*>(data);
  for (int64_t o = 0; o < bytes; o += kPiece)
    MPI_Bcast(p + o, static_cast<int>(std::min(kPiece, bytes - o)), MPI_BYTE, root, MPI_COMM_WORLD);
#else
  (void)data;
  (void)bytes;
  (void)root;
#endif
}

void barrier() {
#if BATCHSCOPE_HAVE_MPI
  if (g_world.parallel()) MPI_Barrier(MPI_COMM_WORLD);
#endif
}

void check_ranks_agree(const std::vector<std::pair<std::string, std::string>>& fields) {
  for (const auto& [name, value] : fields) {
    const std::vector<uint64_t> all = allgather(fingerprint(value));
    for (int r = 1; r < g_world.size; ++r)
      if (all[static_cast<size_t>(r)] != all[0]) {
        if (g_world.rank == 0)
          std::fprintf(stderr, "error: rank %d of %d differs from rank 0 in its %s; every rank must be started "
                       "with the same flags and data\n", r, g_world.size, name.c_str());
        finalize();
        std::exit(2);
      }
  }
}

std::vector<uint64_t> allgather(uint64_t value) {
  std::vector<uint64_t> all(static_cast<size_t>(g_world.size), value);
#if BATCHSCOPE_HAVE_MPI
  if (g_world.parallel())
    MPI_Allgather(&value, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, MPI_COMM_WORLD);
#endif
  return all;
}

void abort_all(int code) {
#if BATCHSCOPE_HAVE_MPI
  if (g_mpi) {
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, code);
  }
#endif
  std::exit(code);
}

uint64_t fingerprint(const void* data, size_t bytes, uint64_t h) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < bytes; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

}  // namespace batchscope::dist
