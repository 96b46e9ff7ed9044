// The op tables. Every table starts as the reference table and a back-end overrides the slots
// it implements (BLIS-style), so a missing fast kernel silently falls back to ref rather than
// to a null pointer. Also --backend parsing.
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
      .conv2d_fwd = &ref::conv2d_fwd,
      .conv2d_bwd_data = &ref::conv2d_bwd_data,
      .conv2d_bwd_weight = &ref::conv2d_bwd_weight,
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

OpTable make_onednn() {
  OpTable t = make_reference();
  t.name = "onednn";
  t.conv2d_fwd = &onednn::conv2d_fwd;
  t.conv2d_bwd_data = &onednn::conv2d_bwd_data;
  t.conv2d_bwd_weight = &onednn::conv2d_bwd_weight;
  t.dense_fwd = &onednn::dense_fwd;
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
const OpTable kOneDnn = make_onednn();
const OpTable* const kAllTables[] = {&kReference, &kOneDnn};

}  // namespace

const OpTable& ops(Backend b) {
  switch (b) {
    case Backend::Reference:
      return kReference;
    case Backend::OneDnn:
      return kOneDnn;
  }
  BS_CHECK(false, "ops: unknown Backend value");
}

Backend parse_backend(std::string_view s) {
  if (s == "reference") return Backend::Reference;
  if (s == "onednn") return Backend::OneDnn;
  throw UsageError("--backend: '" + std::string(s) +
                   "' is not a back-end; expected reference or onednn");
}

const OpTable* const* all_tables(int* count) {
  *count = static_cast<int>(std::size(kAllTables));
  return kAllTables;
}

void set_conv_algo(ConvAlgo a) { onednn::set_conv_algo(a); }

ConvAlgo parse_conv_algo(std::string_view s) {
  if (s == "direct") return ConvAlgo::Direct;
  if (s == "winograd") return ConvAlgo::Winograd;
  throw UsageError("--conv-algo: '" + std::string(s) + "' is not an algorithm; expected direct or winograd");
}

void set_precision(Precision p) { onednn::set_precision(p); }

Precision parse_precision(std::string_view s) {
  if (s == "f32") return Precision::F32;
  if (s == "bf16") return Precision::Bf16;
  throw UsageError("--precision: '" + std::string(s) + "' is not a precision; expected f32 or bf16");
}

}  // namespace batchscope::kernels
