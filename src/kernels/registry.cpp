// The op tables, one per kernel variant. Every table starts as the reference table and a
// back-end overrides the slots it implements (BLIS-style), so a missing fast kernel falls back
// to ref rather than to a null pointer. Which fast variants this CPU runs is asked of oneDNN
// once, on first use; flag parsing and the usage errors for unsupported choices live here too.
#include <cstdlib>
#include <string>

#include "batchscope/error.h"
#include "kernels/cpu/cpu.h"
#include "kernels/kernels.h"
#include "kernels/onednn/onednn.h"
#include "kernels/ref/ref.h"

namespace batchscope::kernels {

namespace {

OpTable make_reference() {
  return OpTable{
      .name = "reference",
      .backend = Backend::Reference,
      .conv_algo = ConvAlgo::Direct,
      .precision = Precision::F32,
      .conv2d_fwd = &ref::conv2d_fwd,
      .conv2d_bwd_data = &ref::conv2d_bwd_data,
      .conv2d_bwd_weight = &ref::conv2d_bwd_weight,
      .conv2d_bwd_weight_relu = &ref::conv2d_bwd_weight_relu,
      .dense_fwd = &ref::dense_fwd,
      .dense_bwd_data = &ref::dense_bwd_data,
      .dense_bwd_weight = &ref::dense_bwd_weight,
      .maxpool2d_fwd = &ref::maxpool2d_fwd,
      .maxpool2d_bwd = &ref::maxpool2d_bwd,
      .relu_fwd = &ref::relu_fwd,
      .relu_bwd = &ref::relu_bwd,
      .softmax_xent_fwd = &ref::softmax_xent_fwd,
      .softmax_xent_bwd = &ref::softmax_xent_bwd,
  };
}

template <ConvAlgo A, Precision P>
OpTable make_onednn(std::string_view name) {
  OpTable t = make_reference();
  t.name = name;
  t.backend = Backend::OneDnn;
  t.conv_algo = A;
  t.precision = P;
  // A one-channel first layer into 8-wide blocks, which oneDNN runs half-width on AVX-512
  // (26% of peak for the fast recipe's 1 -> 24 5x5 layer): a kernel of our own (cpu.h).
  t.conv2d_fwd = &cpu::conv2d_fwd<&onednn::conv2d_fwd<A, P>>;
  t.conv2d_bwd_data = &onednn::conv2d_bwd_data<A, P>;
  // The one-channel case oneDNN serves with a slow GEMM (7% of peak for the fast recipe's 5x5
  // first layer on AVX2): a kernel of our own (cpu.h), with or without a ReLU to fold.
  t.conv2d_bwd_weight = &cpu::conv2d_bwd_weight<&onednn::conv2d_bwd_weight<A, P>>;
  t.conv2d_bwd_weight_relu = &cpu::conv2d_bwd_weight_relu<&onednn::conv2d_bwd_weight<A, P>>;
  // One or two rows: a matrix-vector loop of our own (cpu.h), faster than oneDNN's matmul.
  t.dense_fwd = &cpu::dense_fwd<&onednn::dense_fwd>;
  t.dense_bwd_data = &onednn::dense_bwd_data;
  t.dense_bwd_weight = &onednn::dense_bwd_weight;
  // Memory-bound ops oneDNN is not used for: threaded hand-written loops.
  t.maxpool2d_fwd = &cpu::maxpool2d_fwd;
  t.maxpool2d_bwd = &cpu::maxpool2d_bwd;
  t.relu_fwd = &cpu::relu_fwd;
  t.relu_bwd = &cpu::relu_bwd;
  // softmax_xent stays on ref: [N,10] is too small to be worth another version.
  return t;
}

const OpTable kReference = make_reference();
const OpTable kOneDnn = make_onednn<ConvAlgo::Direct, Precision::F32>("onednn");
const OpTable kOneDnnWinograd = make_onednn<ConvAlgo::Winograd, Precision::F32>("onednn-winograd");
const OpTable kOneDnnBf16 = make_onednn<ConvAlgo::Direct, Precision::Bf16>("onednn-bf16");
const OpTable kOneDnnWinogradBf16 =
    make_onednn<ConvAlgo::Winograd, Precision::Bf16>("onednn-winograd-bf16");

// What oneDNN 2.6 needs for each non-default variant (from its implementation list: the
// Winograd and bf16 convolutions are jit_avx512_core_* kernels only).
std::string_view needs_of(const OpTable& t) {
  if (t.backend == Backend::Reference || (t.conv_algo == ConvAlgo::Direct && t.precision == Precision::F32))
    return "";
  if (t.conv_algo == ConvAlgo::Winograd && t.precision == Precision::Bf16)
    return "AVX-512 (avx512_core) and a oneDNN with bf16 Winograd convolutions (2.6 has none)";
  return "AVX-512 (avx512_core)";
}

std::vector<Variant> probe_variants() {
  std::vector<Variant> v;
  for (const OpTable* t : {&kReference, &kOneDnn, &kOneDnnWinograd, &kOneDnnBf16, &kOneDnnWinogradBf16}) {
    Variant x{t, true, needs_of(*t), "", 0};
    if (!x.needs.empty()) {
      const std::string why = onednn::conv_variant_unsupported(t->conv_algo, t->precision);
      if (!why.empty()) {
        x.supported = false;
        x.why_not = "oneDNN here dispatches to " + onednn_isa() + " and " + why;
      }
    }
    if (x.supported && t->backend == Backend::OneDnn)
      x.activation_block = onednn::preferred_block(t->conv_algo, t->precision);
    v.push_back(std::move(x));
  }
  return v;
}

const Variant& variant_of(const OpTable& t) {
  for (const Variant& v : variants())
    if (v.table == &t) return v;
  BS_CHECK(false, "kernels: a table missing from variants()");
}

const OpTable& table_for(ConvAlgo a, Precision p) {
  if (a == ConvAlgo::Direct) return p == Precision::F32 ? kOneDnn : kOneDnnBf16;
  return p == Precision::F32 ? kOneDnnWinograd : kOneDnnWinogradBf16;
}

}  // namespace

const std::vector<Variant>& variants() {
  static const std::vector<Variant> v = probe_variants();
  return v;
}

std::vector<const OpTable*> supported_tables() {
  std::vector<const OpTable*> out;
  for (const Variant& v : variants())
    if (v.supported) out.push_back(v.table);
  return out;
}

int64_t activation_block(const OpTable& t) { return variant_of(t).activation_block; }

const OpTable& ops(Backend b) {
  switch (b) {
    case Backend::Reference:
      return kReference;
    case Backend::OneDnn:
      return kOneDnn;
  }
  BS_CHECK(false, "ops: unknown Backend value");
}

std::string onednn_isa() {
  std::string isa = onednn::effective_isa();
  if (const char* cap = std::getenv("ONEDNN_MAX_CPU_ISA"); cap && *cap)
    isa += std::string(" (capped by ONEDNN_MAX_CPU_ISA=") + cap + ")";
  return isa;
}

const OpTable& select_table(Backend b, ConvAlgo a, Precision p) {
  if (b == Backend::Reference) {
    if (a != ConvAlgo::Direct)
      throw UsageError("conv_algo", std::string(to_string(a)) +
                       ": the reference back-end runs direct convolutions only; use back-end onednn or conv algo direct");
    if (p != Precision::F32)
      throw UsageError("precision", std::string(to_string(p)) +
                       ": the reference back-end computes in f32 only; use back-end onednn or precision f32");
    return kReference;
  }
  const OpTable& t = table_for(a, p);
  const Variant& v = variant_of(t);
  if (v.supported) return t;
  // Name the flag whose value this CPU cannot run, and what would run instead.
  const bool wino_alone_ok = variant_of(table_for(ConvAlgo::Winograd, Precision::F32)).supported;
  const bool bf16_alone_ok = variant_of(table_for(ConvAlgo::Direct, Precision::Bf16)).supported;
  std::string option, value, instead;
  if (a == ConvAlgo::Winograd && !wino_alone_ok) {
    option = "conv_algo", value = "winograd";
    instead = "direct (or auto, the fastest this CPU offers)";
  } else if (p == Precision::Bf16 && !bf16_alone_ok) {
    option = "precision", value = "bf16";
    instead = "f32";
  } else {
    option = "conv_algo", value = "winograd with precision bf16";
    instead = "one of the two, not both";
  }
  throw UsageError(option, value + ": not available here: needs " + std::string(v.needs) + "; " +
                   v.why_not + "; use " + instead);
}

ConvAlgo fastest_conv_algo(Precision p) {
  return variant_of(table_for(ConvAlgo::Winograd, p)).supported ? ConvAlgo::Winograd
                                                                : ConvAlgo::Direct;
}

const OpTable& kernel_table(std::string_view backend, std::string_view conv_algo, std::string_view precision) {
  const Backend b = parse_backend(backend);
  const Precision p = parse_precision(precision);
  const ConvAlgo a = conv_algo != "auto"            ? parse_conv_algo(conv_algo)
                     : b == Backend::OneDnn ? fastest_conv_algo(p)
                                            : ConvAlgo::Direct;
  return select_table(b, a, p);
}

Backend parse_backend(std::string_view s) {
  if (s == "reference") return Backend::Reference;
  if (s == "onednn") return Backend::OneDnn;
  throw UsageError("backend", "'" + std::string(s) +
                   "' is not a back-end; expected reference or onednn");
}

ConvAlgo parse_conv_algo(std::string_view s) {
  if (s == "direct") return ConvAlgo::Direct;
  if (s == "winograd") return ConvAlgo::Winograd;
  throw UsageError("conv_algo", "'" + std::string(s) +
                   "' is not an algorithm; expected direct, winograd or auto");
}

Precision parse_precision(std::string_view s) {
  if (s == "f32") return Precision::F32;
  if (s == "bf16") return Precision::Bf16;
  throw UsageError("precision", "'" + std::string(s) + "' is not a precision; expected f32 or bf16");
}

std::string_view to_string(ConvAlgo a) { return a == ConvAlgo::Winograd ? "winograd" : "direct"; }
std::string_view to_string(Precision p) { return p == Precision::Bf16 ? "bf16" : "f32"; }

}  // namespace batchscope::kernels
