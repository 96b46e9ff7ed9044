// oneDNN 2-D convolution: forward (bias and fused ReLU as a post-op), backward data and
// backward weights, one cached Plan per shape. The API is plain nchw / oihw; inside, oneDNN
// picks its own (blocked) layouts and the plan reorders to and from them. The weight and bias
// gradients are added into the caller's buffers by the output reorder's sum post-op, since
// oneDNN primitives overwrite and this op's contract is "accumulate".
#include "batchscope/error.h"
#include "kernels/onednn/context.h"
#include "kernels/onednn/onednn.h"
#include "kernels/ref/ref.h"

namespace batchscope::kernels::onednn {

namespace {

using dnnl::memory;
using Tag = memory::format_tag;
constexpr memory::data_type kF32 = memory::data_type::f32;

// Layout policy, from measurements on the MNIST convs (1 -> 32 on 28x28, 32 -> 64 on 26x26,
// N = 1, 64, 256, one thread): format_tag::any (oneDNN's jit direct conv on nChw16c) plus the
// reorders beats the plain-layout gemm convolution by 1.3-1.6x, except that a tensor with
// fewer than 16 channels gets padded to a whole 16-channel block, which made conv1's input
// gradient 8x slower. So activations with fewer channels stay plain; weights are always any.
constexpr int64_t kMinBlockedChannels = 16;
Tag activation_layout(int64_t channels) {
  return channels >= kMinBlockedChannels ? Tag::any : Tag::nchw;
}

enum class ConvOp : int64_t { kFwd = 1, kBwdData, kBwdWeight };

// The variant an op instance belongs to (its template arguments, as a value).
struct Variant {
  ConvAlgo algo;
  Precision precision;
};

// With bf16 the convolutions whose inputs are blocked (16+ channels) read bf16 copies of their
// inputs (made by the input reorders; the caller's buffers and the master weights stay f32)
// and write f32 outputs and gradients.
memory::data_type in_type(Variant v, const ConvShape& g) {
  return v.precision == Precision::Bf16 && g.C >= kMinBlockedChannels ? memory::data_type::bf16
                                                                       : kF32;
}

// Winograd F(4x4, 3x3) as oneDNN 2.6 implements it on AVX-512 needs 3x3 filters, stride 1 and
// channel counts that fill 16-wide blocks; anything else runs direct.
dnnl::algorithm algorithm_for(Variant v, const ConvShape& g) {
  const bool wino_fits = g.R == 3 && g.S == 3 && g.stride_h == 1 && g.stride_w == 1 &&
                         g.C % 16 == 0 && g.K % 16 == 0;
  return v.algo == ConvAlgo::Winograd && wino_fits ? dnnl::algorithm::convolution_winograd
                                                   : dnnl::algorithm::convolution_direct;
}

CacheKey conv_key(ConvOp op, Variant v, const ConvShape& g, bool has_bias, bool relu) {
  return make_key({static_cast<int64_t>(op), g.N, g.C, g.H, g.W, g.K, g.R, g.S, g.stride_h,
                   g.stride_w, g.pad_h, g.pad_w, g.x_block, g.y_block, has_bias, relu,
                   static_cast<int64_t>(algorithm_for(v, g)), static_cast<int64_t>(in_type(v, g))});
}

// A caller's activation layout: plain, or channel-blocked by 16 or 8 (kernels.h).
Tag activation_tag(int64_t block) {
  switch (block) {
    case 0: return Tag::nchw;
    case 8: return Tag::nChw8c;
    case 16: return Tag::nChw16c;
  }
  BS_CHECK(false, "oneDNN conv: channel block must be 0, 8 or 16");
}

// The caller's layouts. When they are what the primitive chose, the plan runs no reorder.
memory::desc src_md(const ConvShape& g) {
  return {{g.N, g.C, g.H, g.W}, kF32, activation_tag(g.x_block)};
}
memory::desc weights_md(const ConvShape& g) { return {{g.K, g.C, g.R, g.S}, kF32, Tag::oihw}; }
memory::desc bias_md(const ConvShape& g) { return {{g.K}, kF32, Tag::x}; }
memory::desc dst_md(const ConvShape& g) {
  return {{g.N, g.K, g.P(), g.Q()}, kF32, activation_tag(g.y_block)};
}
// What the primitives are asked for.
memory::desc src_any(const ConvShape& g, memory::data_type t) {
  return {{g.N, g.C, g.H, g.W}, t, activation_layout(g.C)};
}
memory::desc weights_any(Variant v, const ConvShape& g) {
  return {{g.K, g.C, g.R, g.S}, in_type(v, g), Tag::any};
}
// An output the caller keeps 8-wide because its channels do not fill 16-wide blocks
// (Model::choose_activation_layouts) is asked for as it is: given `any`, oneDNN's AVX-512
// kernels pad it to whole 16-channel blocks and the plan reorders it every call; asked for
// nChw8c, oneDNN runs its 8-wide kernel straight into it.
memory::desc dst_any(const ConvShape& g, memory::data_type t) {
  const bool keep_8c = g.y_block == 8 && g.K % 16 != 0 && t == kF32;
  return {{g.N, g.K, g.P(), g.Q()}, t, keep_8c ? Tag::nChw8c : activation_layout(g.K)};
}

memory::dims strides(const ConvShape& g) { return {g.stride_h, g.stride_w}; }
// Symmetric padding, as PyTorch passes it: when (H + 2*pad - R) is not a multiple of the
// stride the last rows of padding are simply never read, which oneDNN accepts.
memory::dims padding(const ConvShape& g) { return {g.pad_h, g.pad_w}; }

dnnl::convolution_forward::desc fwd_desc(Variant v, const ConvShape& g, bool has_bias) {
  // A zero memory descriptor for the bias tells oneDNN there is none.
  return dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training,
                                         algorithm_for(v, g), src_any(g, in_type(v, g)),
                                         weights_any(v, g), has_bias ? bias_md(g) : memory::desc(),
                                         dst_any(g, kF32), strides(g), padding(g), padding(g));
}

// The backward descriptors; the builders below and the support probe share them, so what the
// probe checks is what the plans build.
dnnl::convolution_backward_data::desc bwd_data_desc(Variant v, const ConvShape& g) {
  return dnnl::convolution_backward_data::desc(algorithm_for(v, g), src_any(g, kF32),
                                               weights_any(v, g), dst_any(g, in_type(v, g)),
                                               strides(g), padding(g), padding(g));
}

dnnl::convolution_backward_weights::desc bwd_weight_desc(Variant v, const ConvShape& g, bool has_bias) {
  return dnnl::convolution_backward_weights::desc(
      algorithm_for(v, g), src_any(g, in_type(v, g)),
      memory::desc({g.K, g.C, g.R, g.S}, kF32, Tag::any), has_bias ? bias_md(g) : memory::desc(),
      dst_any(g, in_type(v, g)), strides(g), padding(g), padding(g));
}

std::unique_ptr<Plan> build_fwd(Variant v, const ConvShape& g, bool has_bias, bool relu) {
  try {
    dnnl::primitive_attr attr = base_attr();
    if (relu) {
      dnnl::post_ops ops;
      ops.append_eltwise(/*scale=*/1.0f, dnnl::algorithm::eltwise_relu, /*alpha=*/0.0f,
                         /*beta=*/0.0f);
      attr.set_post_ops(ops);
    }
    const dnnl::convolution_forward::primitive_desc pd(fwd_desc(v, g, has_bias), attr, engine());
    auto plan = std::make_unique<Plan>(dnnl::convolution_forward(pd), pd);
    plan->add_input(DNNL_ARG_SRC, src_md(g), pd.src_desc());
    plan->add_input(DNNL_ARG_WEIGHTS, weights_md(g), pd.weights_desc());
    if (has_bias) plan->add_input(DNNL_ARG_BIAS, bias_md(g), pd.bias_desc());
    plan->add_output(DNNL_ARG_DST, dst_md(g), pd.dst_desc(), /*accumulate=*/false);
    return plan;
  } catch (const dnnl::error& err) {
    creation_failed("conv2d_fwd", err);
  }
}

std::unique_ptr<Plan> build_bwd_data(Variant v, const ConvShape& g) {
  try {
    // Backward primitives take the forward one as a hint for their algorithm choice.
    const dnnl::convolution_forward::primitive_desc hint(fwd_desc(v, g, /*has_bias=*/false),
                                                         base_attr(), engine());
    const dnnl::convolution_backward_data::primitive_desc pd(bwd_data_desc(v, g), base_attr(),
                                                             engine(), hint);
    auto plan = std::make_unique<Plan>(dnnl::convolution_backward_data(pd), pd);
    plan->add_input(DNNL_ARG_DIFF_DST, dst_md(g), pd.diff_dst_desc());
    plan->add_input(DNNL_ARG_WEIGHTS, weights_md(g), pd.weights_desc());
    plan->add_output(DNNL_ARG_DIFF_SRC, src_md(g), pd.diff_src_desc(), /*accumulate=*/false);
    return plan;
  } catch (const dnnl::error& err) {
    creation_failed("conv2d_bwd_data", err);
  }
}

std::unique_ptr<Plan> build_bwd_weight(Variant v, const ConvShape& g, bool has_bias) {
  try {
    const dnnl::convolution_forward::primitive_desc hint(fwd_desc(v, g, has_bias), base_attr(),
                                                         engine());
    const dnnl::convolution_backward_weights::primitive_desc pd(bwd_weight_desc(v, g, has_bias),
                                                                base_attr(), engine(), hint);
    auto plan = std::make_unique<Plan>(dnnl::convolution_backward_weights(pd), pd);
    plan->add_input(DNNL_ARG_SRC, src_md(g), pd.src_desc());
    plan->add_input(DNNL_ARG_DIFF_DST, dst_md(g), pd.diff_dst_desc());
    plan->add_output(DNNL_ARG_DIFF_WEIGHTS, weights_md(g), pd.diff_weights_desc(),
                     /*accumulate=*/true);
    if (has_bias)
      plan->add_output(DNNL_ARG_DIFF_BIAS, bias_md(g), pd.diff_bias_desc(), /*accumulate=*/true);
    return plan;
  } catch (const dnnl::error& err) {
    creation_failed("conv2d_bwd_weight", err);
  }
}

Cache<Plan>& cache() {
  static Cache<Plan> c;
  return c;
}

}  // namespace

template <ConvAlgo A, Precision P>
void conv2d_fwd(float* y, const float* x, const float* w, const float* b, const ConvShape& g,
                bool relu) {
  BS_CHECK(ref::is_valid(g), "conv2d_fwd: bad geometry");
  constexpr Variant v{A, P};
  const bool has_bias = b != nullptr;
  std::lock_guard lock(call_mutex());
  Plan& plan = find_or_build(cache(), conv_key(ConvOp::kFwd, v, g, has_bias, relu),
                             [&] { return build_fwd(v, g, has_bias, relu); });
  plan.set(DNNL_ARG_SRC, x);
  plan.set(DNNL_ARG_WEIGHTS, w);
  if (has_bias) plan.set(DNNL_ARG_BIAS, b);
  plan.set(DNNL_ARG_DST, y);
  plan.execute();
}

template <ConvAlgo A, Precision P>
void conv2d_bwd_data(float* dx, const float* dy, const float* w, const ConvShape& g) {
  BS_CHECK(ref::is_valid(g), "conv2d_bwd_data: bad geometry");
  constexpr Variant v{A, P};
  std::lock_guard lock(call_mutex());
  const CacheKey key = conv_key(ConvOp::kBwdData, v, g, /*has_bias=*/false, /*relu=*/false);
  Plan& plan = find_or_build(cache(), key, [&] { return build_bwd_data(v, g); });
  plan.set(DNNL_ARG_DIFF_SRC, dx);
  plan.set(DNNL_ARG_WEIGHTS, w);
  plan.set(DNNL_ARG_DIFF_DST, dy);
  plan.execute();
}

template <ConvAlgo A, Precision P>
void conv2d_bwd_weight(float* dw, float* db, const float* dy, const float* x, const ConvShape& g) {
  BS_CHECK(ref::is_valid(g), "conv2d_bwd_weight: bad geometry");
  constexpr Variant v{A, P};
  const bool has_bias = db != nullptr;
  std::lock_guard lock(call_mutex());
  Plan& plan =
      find_or_build(cache(), conv_key(ConvOp::kBwdWeight, v, g, has_bias, /*relu=*/false),
                    [&] { return build_bwd_weight(v, g, has_bias); });
  plan.set(DNNL_ARG_SRC, x);
  plan.set(DNNL_ARG_DIFF_DST, dy);
  plan.set(DNNL_ARG_DIFF_WEIGHTS, dw);
  if (has_bias) plan.set(DNNL_ARG_DIFF_BIAS, db);
  plan.execute();
}

#define BS_CONV_VARIANT(A, P)                                                                  \
  template void conv2d_fwd<A, P>(float*, const float*, const float*, const float*,            \
                                 const ConvShape&, bool);                                     \
  template void conv2d_bwd_data<A, P>(float*, const float*, const float*, const ConvShape&);  \
  template void conv2d_bwd_weight<A, P>(float*, float*, const float*, const float*,           \
                                        const ConvShape&);
BS_CONV_VARIANT(ConvAlgo::Direct, Precision::F32)
BS_CONV_VARIANT(ConvAlgo::Winograd, Precision::F32)
BS_CONV_VARIANT(ConvAlgo::Direct, Precision::Bf16)
BS_CONV_VARIANT(ConvAlgo::Winograd, Precision::Bf16)
#undef BS_CONV_VARIANT

namespace {
// A primitive descriptor counts only if oneDNN found a JIT kernel for it: its reference
// implementations ("ref:any") are correct but orders of magnitude slower.
std::string not_jit(const char* op, const dnnl::primitive_desc_base& pd) {
  const std::string impl = pd.impl_info_str();
  return impl.rfind("ref", 0) == 0
             ? "has only its reference (unoptimised) " + std::string(op) + " convolution for it (" + impl + ")"
             : std::string();
}
}  // namespace

std::string conv_variant_unsupported(ConvAlgo a, Precision p) {
  // 16 -> 16 channels, 3x3, stride 1: a shape both Winograd and bf16 apply to.
  const Variant v{a, p};
  const ConvShape g{2, 16, 8, 8, 16, 3, 3, 1, 1, 1, 1};
  const char* op = "forward";
  try {
    const dnnl::convolution_forward::primitive_desc fwd(fwd_desc(v, g, true), base_attr(),
                                                        engine());
    if (std::string why = not_jit(op, fwd); !why.empty()) return why;
    op = "backward-data";
    const dnnl::convolution_backward_data::primitive_desc bwd_data(bwd_data_desc(v, g), base_attr(),
                                                                   engine(), fwd);
    if (std::string why = not_jit(op, bwd_data); !why.empty()) return why;
    op = "backward-weights";
    const dnnl::convolution_backward_weights::primitive_desc bwd_weights(
        bwd_weight_desc(v, g, /*has_bias=*/true), base_attr(), engine(), fwd);
    return not_jit(op, bwd_weights);
  } catch (const dnnl::error&) {
    return std::string("has no ") + op + " convolution for it";
  }
}

int64_t preferred_block(ConvAlgo a, Precision p) {
  // conv2 of mnist-cnn's channel counts: what format_tag::any settles on for src and dst.
  const Variant v{a, p};
  const ConvShape g{2, 32, 10, 10, 64, 3, 3};
  try {
    const dnnl::convolution_forward::primitive_desc pd(fwd_desc(v, g, true), base_attr(), engine());
    for (int64_t b : {16, 8}) {
      const memory::desc src({g.N, g.C, g.H, g.W}, in_type(v, g), activation_tag(b));
      const memory::desc dst({g.N, g.K, g.P(), g.Q()}, kF32, activation_tag(b));
      if (pd.src_desc() == src && pd.dst_desc() == dst) return b;
    }
  } catch (const dnnl::error&) {
  }
  return 0;
}

std::string effective_isa() {
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::sse41: return "sse41";
    case dnnl::cpu_isa::avx: return "avx";
    case dnnl::cpu_isa::avx2: return "avx2";
    case dnnl::cpu_isa::avx2_vnni: return "avx2_vnni";
    case dnnl::cpu_isa::avx512_mic: return "avx512_mic";
    case dnnl::cpu_isa::avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl::cpu_isa::avx512_core: return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx: return "avx512_core_amx";
    default: return "unknown";
  }
}

}  // namespace batchscope::kernels::onednn
