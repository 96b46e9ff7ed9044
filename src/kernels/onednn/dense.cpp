// oneDNN dense (nn.Linear) ops as matmul primitives on row-major matrices, one cached per
// shape. The weight gradient needs dyᵀ·x added into dw: matmul reads dy transposed through
// its strides and a "sum" post-op makes it accumulate (C = A·B + C), so no scratch copy.
// db is a column sum of dy, a loop too small to be worth a primitive.
#include "batchscope/error.h"
#include "kernels/onednn/context.h"
#include "kernels/onednn/onednn.h"

namespace batchscope::kernels::onednn {

namespace {

using dnnl::memory;
using Tag = memory::format_tag;
constexpr memory::data_type kF32 = memory::data_type::f32;

enum class DenseOp : int64_t { kFwd = 11, kBwdData, kBwdWeight };

CacheKey dense_key(DenseOp op, int64_t N, int64_t I, int64_t O, bool has_bias, bool relu) {
  return make_key({static_cast<int64_t>(op), N, I, O, has_bias, relu});
}

// A rows×cols matrix stored row-major (ab) or its transpose's storage read as rows×cols (ba).
memory::desc matrix_md(int64_t rows, int64_t cols, Tag tag) { return {{rows, cols}, kF32, tag}; }

// Builds c = a·b (+ bias) with the given layouts and post-ops.
std::unique_ptr<Plan> build_matmul(const char* op, const memory::desc& a, const memory::desc& b,
                                   const memory::desc& bias, const memory::desc& c,
                                   const dnnl::post_ops& ops) {
  try {
    dnnl::primitive_attr attr = base_attr();
    attr.set_post_ops(ops);
    const dnnl::matmul::desc d(a, b, bias, c);
    const dnnl::matmul::primitive_desc pd(d, attr, engine());
    // Every layout is given explicitly, so the plan adds no reorders.
    auto plan = std::make_unique<Plan>(dnnl::matmul(pd), pd);
    plan->add_input(DNNL_ARG_SRC, a, pd.src_desc());
    plan->add_input(DNNL_ARG_WEIGHTS, b, pd.weights_desc());
    if (!bias.is_zero()) plan->add_input(DNNL_ARG_BIAS, bias, pd.bias_desc());
    plan->add_output(DNNL_ARG_DST, c, pd.dst_desc(), /*accumulate=*/false);
    return plan;
  } catch (const dnnl::error& err) {
    creation_failed(op, err);
  }
}

Cache<Plan>& cache() {
  static Cache<Plan> c;
  return c;
}

}  // namespace

// y[N,O] = x[N,I] · wᵀ (+ b): w is [O,I] row-major, i.e. wᵀ as an [I,O] matrix in "ba".
void dense_fwd(float* y, const float* x, const float* w, const float* b, int64_t N, int64_t I,
               int64_t O, bool relu) {
  BS_CHECK(N > 0 && I > 0 && O > 0, "dense_fwd: sizes must be positive");
  const bool has_bias = b != nullptr;
  std::lock_guard lock(call_mutex());
  const CacheKey key = dense_key(DenseOp::kFwd, N, I, O, has_bias, relu);
  Plan& plan = find_or_build(cache(), key, [&] {
    dnnl::post_ops ops;
    if (relu)
      ops.append_eltwise(/*scale=*/1.0f, dnnl::algorithm::eltwise_relu, /*alpha=*/0.0f,
                         /*beta=*/0.0f);
    // matmul broadcasts a [1,O] bias over the rows.
    return build_matmul("dense_fwd", matrix_md(N, I, Tag::ab), matrix_md(I, O, Tag::ba),
                        has_bias ? matrix_md(1, O, Tag::ab) : memory::desc(),
                        matrix_md(N, O, Tag::ab), ops);
  });
  plan.set(DNNL_ARG_SRC, x);
  plan.set(DNNL_ARG_WEIGHTS, w);
  if (has_bias) plan.set(DNNL_ARG_BIAS, b);
  plan.set(DNNL_ARG_DST, y);
  plan.execute();
}

// dx[N,I] = dy[N,O] · w[O,I]
void dense_bwd_data(float* dx, const float* dy, const float* w, int64_t N, int64_t I, int64_t O) {
  BS_CHECK(N > 0 && I > 0 && O > 0, "dense_bwd_data: sizes must be positive");
  std::lock_guard lock(call_mutex());
  const CacheKey key = dense_key(DenseOp::kBwdData, N, I, O, /*has_bias=*/false, /*relu=*/false);
  Plan& plan = find_or_build(cache(), key, [&] {
    return build_matmul("dense_bwd_data", matrix_md(N, O, Tag::ab), matrix_md(O, I, Tag::ab),
                        memory::desc(), matrix_md(N, I, Tag::ab), dnnl::post_ops());
  });
  plan.set(DNNL_ARG_SRC, dy);
  plan.set(DNNL_ARG_WEIGHTS, w);
  plan.set(DNNL_ARG_DST, dx);
  plan.execute();
}

// dw[O,I] += dyᵀ[O,N] · x[N,I]  (dy is [N,O] row-major, i.e. dyᵀ in "ba");  db[O] += Σ_n dy
void dense_bwd_weight(float* dw, float* db, const float* dy, const float* x, int64_t N, int64_t I,
                      int64_t O) {
  BS_CHECK(N > 0 && I > 0 && O > 0, "dense_bwd_weight: sizes must be positive");
  std::lock_guard lock(call_mutex());
  // db is summed below, not by the primitive: has_bias does not change the plan.
  const CacheKey key = dense_key(DenseOp::kBwdWeight, N, I, O, /*has_bias=*/false, /*relu=*/false);
  Plan& plan = find_or_build(cache(), key, [&] {
    dnnl::post_ops ops;
    ops.append_sum(/*scale=*/1.0f);  // dst = matmul + dst: the accumulate contract
    return build_matmul("dense_bwd_weight", matrix_md(O, N, Tag::ba), matrix_md(N, I, Tag::ab),
                        memory::desc(), matrix_md(O, I, Tag::ab), ops);
  });
  plan.set(DNNL_ARG_SRC, dy);
  plan.set(DNNL_ARG_WEIGHTS, x);
  plan.set(DNNL_ARG_DST, dw);
  plan.execute();
  if (db == nullptr) return;
  // Row by row, so the inner loop runs over contiguous o and vectorises; the order of the
  // float additions is fixed, so the result is deterministic.
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o) db[o] += dy[n * O + o];
}

}  // namespace batchscope::kernels::onednn
