// The oneDNN engine, stream, call lock and Plan. Executes through the C API with prebuilt
// argument arrays because the C++ execute() builds a std::vector on every call.
#include "kernels/onednn/context.h"

#include <cstdlib>

#include <omp.h>

#include <algorithm>
#include <string>
#include <utility>

#include "batchscope/error.h"

namespace batchscope::kernels::onednn {

dnnl::engine& engine() {
  static dnnl::engine eng(dnnl::engine::kind::cpu, /*index=*/0);
  return eng;
}

dnnl::stream& stream() {
  static dnnl::stream s(engine());
  return s;
}

std::mutex& call_mutex() {
  static std::mutex m;
  return m;
}

CacheKey make_key(std::initializer_list<int64_t> fields) {
  BS_CHECK(fields.size() < CacheKey::kMaxFields, "oneDNN: cache key too long");
  CacheKey k;
  std::copy(fields.begin(), fields.end(), k.fields.begin());
  k.fields[fields.size()] = omp_get_max_threads();
  return k;
}

size_t CacheKeyHash::operator()(const CacheKey& k) const {
  // FNV-1a over the fields: cheap, and the maps hold a handful of entries.
  uint64_t h = 1469598103934665603ull;
  for (int64_t f : k.fields) {
    h ^= static_cast<uint64_t>(f);
    h *= 1099511628211ull;
  }
  return static_cast<size_t>(h);
}

dnnl::primitive_attr base_attr() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

Plan::Step Plan::make_step(dnnl::primitive prim, const dnnl::primitive_desc_base& pd) {
  Step step{std::move(prim), {}};
  const dnnl::memory::desc scratch = pd.scratchpad_desc();
  if (scratch.get_size() != 0) {
    step.args.push_back({DNNL_ARG_SCRATCHPAD, add_owned(scratch).get()});
  }
  return step;
}

Plan::Plan(dnnl::primitive prim, const dnnl::primitive_desc_base& pd)
    : main_(make_step(std::move(prim), pd)) {}

namespace {
// The shared arena behind every plan's intermediate buffers. It only grows; each growth bumps
// the generation so plans re-point their memories before their next run.
struct Arena {
  void* data = nullptr;
  size_t bytes = 0;
  uint64_t generation = 1;
};
Arena& arena() {
  static Arena a;
  return a;
}
constexpr size_t kArenaAlign = 64;
}  // namespace

dnnl::memory& Plan::add_owned(const dnnl::memory::desc& d) {
  owned_.emplace_back(d, engine(), static_cast<void*>(DNNL_MEMORY_NONE));
  owned_offset_.push_back(arena_bytes_);
  arena_bytes_ += (d.get_size() + kArenaAlign - 1) / kArenaAlign * kArenaAlign;
  arena_generation_ = 0;  // not yet pointed anywhere
  return owned_.back();
}

void Plan::add_reorder(std::vector<Step>& steps, const dnnl::memory& from, const dnnl::memory& to,
                       bool accumulate) {
  dnnl::primitive_attr attr = base_attr();
  if (accumulate) {
    dnnl::post_ops ops;
    ops.append_sum(/*scale=*/1.0f);  // to = reorder(from) + to
    attr.set_post_ops(ops);
  }
  const dnnl::reorder::primitive_desc pd(from, to, attr);
  Step step = make_step(dnnl::reorder(pd), pd);
  step.args.push_back({DNNL_ARG_FROM, from.get()});
  step.args.push_back({DNNL_ARG_TO, to.get()});
  steps.push_back(std::move(step));
}

void Plan::add_input(int arg, const dnnl::memory::desc& plain, const dnnl::memory::desc& want) {
  const dnnl::memory caller(plain, engine(), DNNL_MEMORY_NONE);
  caller_.emplace_back(arg, caller);
  if (want == plain) {
    main_.args.push_back({arg, caller.get()});
    return;
  }
  const dnnl::memory buf = add_owned(want);
  add_reorder(pre_, caller, buf, /*accumulate=*/false);
  main_.args.push_back({arg, buf.get()});
}

void Plan::add_output(int arg, const dnnl::memory::desc& plain, const dnnl::memory::desc& want,
                      bool accumulate) {
  const dnnl::memory caller(plain, engine(), DNNL_MEMORY_NONE);
  caller_.emplace_back(arg, caller);
  if (want == plain && !accumulate) {
    main_.args.push_back({arg, caller.get()});
    return;
  }
  // oneDNN primitives overwrite their outputs, so an accumulated one always takes the detour
  // through a buffer of ours, even when no layout change is needed.
  const dnnl::memory buf = add_owned(want);
  main_.args.push_back({arg, buf.get()});
  add_reorder(post_, buf, caller, accumulate);
}

void Plan::set(int arg, const void* data) {
  for (auto& [a, mem] : caller_) {
    if (a != arg) continue;
    mem.set_data_handle(const_cast<void*>(data));
    return;
  }
  BS_CHECK(false, "oneDNN: argument " + std::to_string(arg) + " was never declared");
}

namespace {
void run_step(const dnnl_primitive_t prim, const std::vector<dnnl_exec_arg_t>& args) {
  const dnnl_status_t st =
      dnnl_primitive_execute(prim, stream().get(), static_cast<int>(args.size()), args.data());
  BS_CHECK(st == dnnl_success,
           "oneDNN: primitive execution failed, status " + std::to_string(static_cast<int>(st)));
}
}  // namespace

void Plan::execute() {
  Arena& a = arena();
  if (arena_bytes_ > a.bytes) {
    std::free(a.data);
    a.data = std::aligned_alloc(kArenaAlign, arena_bytes_);
    BS_CHECK(a.data != nullptr, "oneDNN: out of memory for the shared arena");
    a.bytes = arena_bytes_;
    ++a.generation;
  }
  if (arena_generation_ != a.generation) {
    for (size_t i = 0; i < owned_.size(); ++i)
      owned_[i].set_data_handle(static_cast<char*>(a.data) + owned_offset_[i]);
    arena_generation_ = a.generation;
  }
  for (const Step& s : pre_) run_step(s.prim.get(), s.args);
  run_step(main_.prim.get(), main_.args);
  for (const Step& s : post_) run_step(s.prim.get(), s.args);
  stream().wait();
}

void creation_failed(const char* op, const dnnl::error& e) {
  check_failed("primitive creation", std::string("oneDNN ") + op + ": " + e.what(),
               __FILE__, __LINE__);
}

}  // namespace batchscope::kernels::onednn
