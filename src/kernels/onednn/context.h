// Shared plumbing of the oneDNN back-end: the one CPU engine and stream, the lock that
// serialises calls, the shape-keyed cache, and Plan, a primitive with the reorders between
// the caller's plain buffers and its preferred layouts, prebuilt. No ops live here.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <unordered_map>
#include <vector>

namespace batchscope::kernels::onednn {

dnnl::engine& engine();
dnnl::stream& stream();
// Held for a whole op call: cached memories are repointed per call, so two threads sharing
// an entry would race. Parallelism lives inside oneDNN (OpenMP), not across calls.
std::mutex& call_mutex();

// Identifies one cached plan: which op, its sizes and flags, and the thread count.
struct CacheKey {
  static constexpr size_t kMaxFields = 20;
  std::array<int64_t, kMaxFields> fields{};
  bool operator==(const CacheKey& o) const { return fields == o.fields; }
};
// The key for an op identified by `fields` (op id first, then sizes and flags), with the
// current OpenMP thread count appended: oneDNN fixes a primitive's work split and scratchpad
// size for the thread count at creation, so after omp_set_num_threads the op gets new ones.
CacheKey make_key(std::initializer_list<int64_t> fields);
struct CacheKeyHash {
  size_t operator()(const CacheKey& k) const;
};
template <typename Entry>
using Cache = std::unordered_map<CacheKey, std::unique_ptr<Entry>, CacheKeyHash>;

// The cached entry for key, built by build() (returning std::unique_ptr<Entry>) on first use.
// A hit costs one hash and one compare; nothing is allocated.
template <typename Entry, typename Build>
Entry& find_or_build(Cache<Entry>& cache, const CacheKey& key, Build&& build) {
  auto it = cache.find(key);
  if (it == cache.end()) it = cache.emplace(key, build()).first;
  return *it->second;
}

// The attributes every primitive here is built with: a user-managed scratchpad, so that the
// scratch buffer is allocated once with the plan rather than by the library per call.
dnnl::primitive_attr base_attr();

// One op as oneDNN runs it on the caller's plain buffers: reorders from plain into the layouts
// the primitive chose, the primitive, reorders back. Where a layout is already plain the
// primitive reads or writes the caller's buffer directly. Every memory object, intermediate
// buffer and scratchpad is created with the plan; a call only repoints the caller-facing
// memories (set) and runs the prebuilt steps (execute). Nothing is allocated on our side;
// oneDNN 2.6 itself still makes a few small allocations per execution (its argument map).
class Plan {
 public:
  // Starts the plan with its main primitive `prim`, built from pd.
  Plan(dnnl::primitive prim, const dnnl::primitive_desc_base& pd);

  // Argument `arg` (a DNNL_ARG_* value) comes from the caller laid out as `plain`; the
  // primitive wants `want`.
  void add_input(int arg, const dnnl::memory::desc& plain, const dnnl::memory::desc& want);
  // Argument `arg` goes back to the caller as `plain`; the primitive writes `want`. With
  // accumulate the result is added into the caller's buffer (the primitive writes a buffer
  // of the plan's, and a reorder with a sum post-op adds it in) instead of overwriting it.
  void add_output(int arg, const dnnl::memory::desc& plain, const dnnl::memory::desc& want,
                  bool accumulate);

  // Points argument `arg` at the caller's data. oneDNN takes void*; inputs are never written.
  void set(int arg, const void* data);
  // Runs every step on the global stream and waits. Aborts (BS_CHECK) on a oneDNN error.
  void execute();

 private:
  // A primitive and its arguments in the C API's form, built once: the C++ execute() would
  // build a std::unordered_map and a std::vector on every call.
  struct Step {
    dnnl::primitive prim;
    std::vector<dnnl_exec_arg_t> args;
  };
  Step make_step(dnnl::primitive prim, const dnnl::primitive_desc_base& pd);
  void add_reorder(std::vector<Step>& steps, const dnnl::memory& from, const dnnl::memory& to,
                   bool accumulate);

  // Declared first: the constructor's make_step() adds main_'s scratchpad to it.
  // Intermediate buffers and scratchpads. They hold nothing between calls, so every plan
  // places them in one shared arena (calls are serialised by call_mutex): memory is the
  // largest single plan's need, not the sum over all plans.
  std::vector<dnnl::memory> owned_;
  std::vector<size_t> owned_offset_;  // byte offset of owned_[i] in the arena
  size_t arena_bytes_ = 0;            // this plan's share of the arena
  uint64_t arena_generation_ = 0;     // arena generation owned_ was last pointed into
  dnnl::memory& add_owned(const dnnl::memory::desc& d);
  std::vector<Step> pre_;            // input reorders, run before main_
  Step main_;
  std::vector<Step> post_;                            // output reorders, run after main_
  std::vector<std::pair<int, dnnl::memory>> caller_;  // the memories set() repoints
};

// Turns oneDNN's exception while building a primitive (an unsupported configuration) into
// an invariant failure naming the op: kernels never throw.
[[noreturn]] void creation_failed(const char* op, const dnnl::error& e);

}  // namespace batchscope::kernels::onednn
