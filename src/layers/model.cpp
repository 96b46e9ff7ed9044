// Model construction from spec strings, the flat parameter buffers, PyTorch-default
// initialisation, and the forward/backward loop over layers.
#include "batchscope/model.h"

#include <algorithm>
#include <cmath>

#include "batchscope/error.h"
#include "core/rng.h"
#include "core/step_profiler.h"
#include "kernels/kernels.h"
#include "layers/conv2d.h"
#include "layers/dense.h"
#include "layers/dropout.h"
#include "layers/flatten.h"
#include "layers/layer_args.h"
#include "layers/maxpool2d.h"
#include "layers/relu.h"

namespace batchscope {

const std::vector<Preset>& presets() {
  static const std::vector<Preset> kPresets = {
      {"mnist-cnn",
       "conv2d:32:3,relu,conv2d:64:3,relu,maxpool2d:2,flatten,dense:128,relu,dense:10",
       "PyTorch's MNIST example without dropout; the benchmark network"},
      {"lenet5",
       "conv2d:6:5:pad=2,relu,maxpool2d:2,conv2d:16:5,relu,maxpool2d:2,flatten,dense:120,relu,"
       "dense:84,relu,dense:10",
       "LeCun et al. 1998 with ReLU and max-pooling; small, so per-step overhead dominates"},
      {"tiny", "conv2d:8:3,relu,maxpool2d:2,flatten,dense:10",
       "what a from-scratch NumPy CNN usually starts as"},
  };
  return kPresets;
}

std::string resolve_model_spec(std::string_view name_or_spec) {
  for (const auto& p : presets())
    if (p.name == name_or_spec) return std::string(p.spec);
  return std::string(name_or_spec);
}

std::unique_ptr<Layer> make_layer(const std::string& token) {
  LayerArgs args = LayerArgs::parse(token);
#define BS_LAYER(Class, kName) \
  if (args.kind() == kName) return std::make_unique<Class>(args);
#include "layers/layer_list.h"
#undef BS_LAYER
  std::string known;
#define BS_LAYER(Class, kName) known += std::string(known.empty() ? "" : ", ") + kName;
#include "layers/layer_list.h"
#undef BS_LAYER
  std::string preset_names;
  for (const auto& p : presets()) preset_names += (preset_names.empty() ? "" : ", ") + std::string(p.name);
  throw ShapeError("model spec: unknown layer '" + args.kind() + "'; expected one of: " + known +
                   " (or a preset: " + preset_names + ")");
}

Model::Model(std::string_view name_or_spec, const Shape& in_sample, int64_t num_classes,
             kernels::Backend backend, uint64_t seed)
    : Model(name_or_spec, in_sample, num_classes, kernels::ops(backend), seed) {}

Model::Model(std::string_view name_or_spec, const Shape& in_sample, int64_t num_classes,
             const kernels::OpTable& ops, uint64_t seed)
    : in_sample_(in_sample), num_classes_(num_classes), ops_(&ops) {
  std::string spec = resolve_model_spec(name_or_spec);
  if (spec.empty()) throw ShapeError("model spec is empty");
  sample_shapes_.push_back(in_sample);
  size_t start = 0;
  while (start <= spec.size()) {
    size_t comma = spec.find(',', start);
    std::string token = spec.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (token.empty()) throw ShapeError("model spec '" + spec + "' has an empty layer");
    auto layer = make_layer(token);
    layer->set_ops(ops_);
    const Shape& in = sample_shapes_.back();
    Shape out;
    try {
      out = layer->setup(in);
    } catch (const ShapeError& e) {
      throw ShapeError("model spec: layer " + std::to_string(layers_.size()) + " (" + e.what() +
                       ")");
    }
    if (out.numel() <= 0)
      throw ShapeError("model spec: layer " + std::to_string(layers_.size()) + " (" +
                       layer->spec() + ") maps input " + in.str() + " to an empty output " +
                       out.str());
    sample_shapes_.push_back(out);
    layers_.push_back(std::move(layer));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  const Shape& out = sample_shapes_.back();
  if (out.rank() != 1 || out[0] != num_classes)
    throw ShapeError("model spec: the network's output is " + out.str() + "; expected [" +
                     std::to_string(num_classes) + "] logits (end with dense:" +
                     std::to_string(num_classes) + ")");
  for (size_t i = 0; i < layers_.size(); ++i)
    spec_ += (i ? "," : "") + layers_[i]->spec();
  fused_.assign(layers_.size(), false);
  for (size_t i = 1; i < layers_.size(); ++i)
    if (layers_[i]->kind() == "relu" && !fused_[i - 1] && layers_[i - 1]->fuse_relu())
      fused_[i] = true;
  choose_activation_layouts();
  relu_bwd_folded_.assign(layers_.size(), false);
  relu_bwd_absorber_.assign(layers_.size(), -1);
  for (size_t i = 0; i + 1 < layers_.size(); ++i)
    if (layers_[i]->kind() == "relu" && layers_[i + 1]->absorb_relu_backward()) {
      relu_bwd_folded_[i] = true;
      relu_bwd_absorber_[i] = static_cast<int>(i + 1);
    }
  // The first layer computes no input gradient, so a ReLU it fused can be masked inside its
  // weight gradient (a layer-1 ReLU that a max-pool after it already absorbs is left there).
  if (layers_.size() > 1 && fused_[1] && !relu_bwd_folded_[1] &&
      layers_[0]->absorb_following_relu_backward()) {
    relu_bwd_folded_[1] = true;
    relu_bwd_absorber_[1] = 0;
  }

  // One flat buffer for all parameters, one for all gradients; layers get views.
  int64_t total = 0;
  for (auto& l : layers_)
    for (auto& p : l->params()) total += p.shape.numel();
  // 2^27 floats is 512 MiB per buffer: far beyond any MNIST-class network, and a spec past it
  // is a typo (dense:1000000) rather than a model to allocate.
  constexpr int64_t kMaxParams = int64_t{1} << 27;
  if (total > kMaxParams)
    throw ShapeError("model spec '" + spec_ + "' has " + std::to_string(total) +
                     " parameters; at most " + std::to_string(kMaxParams) + " are supported");
  params_ = Tensor(Shape{std::max<int64_t>(total, 1)});
  grads_ = Tensor(Shape{std::max<int64_t>(total, 1)});
  int64_t off = 0;
  Rng rng(derive_seed(seed, kInitStream, 0));
  for (size_t i = 0; i < layers_.size(); ++i) {
    for (auto& p : layers_[i]->params()) {
      p.value = Tensor::view(params_.data() + off, p.shape);
      p.grad = Tensor::view(grads_.data() + off, p.shape);
      // PyTorch's default for Conv2d and Linear: kaiming_uniform_(a=sqrt(5)) for weights and
      // U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for biases; both reduce to this bound.
      const float bound = 1.0f / std::sqrt(static_cast<float>(p.fan_in));
      for (int64_t j = 0; j < p.shape.numel(); ++j) p.value[j] = rng.uniform(-bound, bound);
      off += p.shape.numel();
      named_.push_back({std::to_string(i) + "." + p.name, &p});
    }
  }
  num_params_ = total;
}

Model::~Model() = default;

int64_t Model::macs_per_sample() const {
  int64_t m = 0;
  for (const auto& l : layers_) m += l->macs_per_sample();
  return m;
}

void Model::choose_activation_layouts() {
  // Channel-blocked where the table's convolutions want it and every layer that reads the
  // tensor takes it: then oneDNN runs no reorder at a convolution's edges (about 20% of a
  // batch-256 step of mnist-cnn when everything was plain). The image and the logits stay
  // plain, and so does every tensor next to a layer that only takes plain ones.
  const size_t L = layers_.size();
  blocks_.assign(L + 1, 0);
  const int64_t b = kernels::activation_block(*ops_);
  if (b == 0) return;
  // readable(i, c): acts_[i] may be blocked by c for its reader, layer i (through
  // layout-keeping layers, for theirs).
  auto readable = [&](size_t i, int64_t c) {
    for (; i < L; ++i)
      if (!layers_[i]->keeps_layout()) return layers_[i]->takes_blocked_input(c);
    return false;  // the logits stay plain
  };
  // A tensor whose channels do not fill 16-wide blocks takes 8-wide ones where its producer
  // and readers do. On AVX-512 the fast recipe's first conv (24 channels) otherwise wrote a
  // plain tensor through a kernel padded to 32 channels and a reorder: 2.1 ms forward and
  // 2.2 ms weight gradient of a 15.5 ms batch-256 step, against 1.3 and 1.4 ms with nChw8c
  // (oneDNN's 8-wide kernel, and the one-channel weight-gradient kernel, read and write it as
  // it is); the 8c -> 16c reorders at the next conv cost 0.1-0.2 ms.
  std::vector<int64_t> candidates = {b};
  if (b == 16) candidates.push_back(8);
  for (size_t i = 0; i < L; ++i) {
    if (layers_[i]->keeps_layout()) {
      blocks_[i + 1] = blocks_[i];
    } else {
      blocks_[i + 1] = 0;
      for (int64_t c : candidates)
        if (layers_[i]->gives_blocked_output(c) && readable(i + 1, c)) {
          blocks_[i + 1] = c;
          break;
        }
    }
    layers_[i]->set_activation_blocks(blocks_[i], blocks_[i + 1]);
  }
}

bool Model::passes_gradient_through(size_t i) const {
  return layers_[i]->is_view() || relu_bwd_folded_[i];
}

void Model::reshape(int64_t batch) {
  BS_CHECK(batch > 0, "batch must be positive");
  if (batch == batch_) return;
  batch_ = batch;
  acts_.resize(sample_shapes_.size());
  dacts_.resize(sample_shapes_.size());
  for (size_t i = 0; i < sample_shapes_.size(); ++i) {
    Shape s;
    {
      int64_t dims[Shape::kMaxRank];
      dims[0] = batch;
      const Shape& ss = sample_shapes_[i];
      for (int d = 0; d < ss.rank(); ++d) dims[d + 1] = ss[d];
      s = Shape::from_span({dims, static_cast<size_t>(ss.rank() + 1)});
    }
    if (i > 0 && (fused_[i - 1] || layers_[i - 1]->is_view()))
      acts_[i] = Tensor::view(acts_[i - 1].data(), s);
    else
      acts_[i].resize(s);
    if (i == 0) continue;
    // A view layer's (or folded ReLU's) input gradient becomes its output gradient, reshaped
    // (below); a view must not be resized, so it is dropped first.
    if (i < layers_.size() && passes_gradient_through(i))
      dacts_[i] = Tensor::view(nullptr, s);
    else
      dacts_[i].resize(s);
  }
  // From the back, so a run of views all end on the buffer of the first non-view after them.
  for (size_t i = layers_.size(); i-- > 1;)
    if (passes_gradient_through(i)) dacts_[i] = Tensor::view(dacts_[i + 1].data(), dacts_[i].shape());
  for (auto& l : layers_) l->reshape(batch);
}

const Tensor& Model::forward(const StepContext& ctx) {
  for (size_t i = 0; i < layers_.size(); ++i) {
    if (fused_[i] || layers_[i]->is_view()) continue;
    StepContext c = ctx;
    c.seed = derive_seed(ctx.seed, kDropoutStream, i);
    TimedScope t(Phase::Forward, static_cast<int32_t>(i));
    layers_[i]->forward(acts_[i], acts_[i + 1], c);
  }
  return acts_.back();
}

int64_t Model::estimate_training_bytes(int64_t batch, int optimizer_slots) const {
  int64_t act = 0, largest_pair = 0;
  for (size_t i = 0; i < sample_shapes_.size(); ++i) {
    act += sample_shapes_[i].numel();
    if (i + 1 < sample_shapes_.size())
      largest_pair = std::max(largest_pair, sample_shapes_[i].numel() + sample_shapes_[i + 1].numel());
  }
  const int64_t f = static_cast<int64_t>(sizeof(float));
  // Activations and their gradients; fused ReLU outputs are counted although they alias
  // their producer's, which covers max-pool indices and loss buffers with room to spare.
  const int64_t activations = 2 * act * batch * f;
  const int64_t parameters = (2 + optimizer_slots) * num_params_ * f;
  const int64_t scratch = 2 * largest_pair * batch * f;  // blocked copies, both directions
  return activations + parameters + scratch;
}

std::string Model::first_non_finite() const {
  auto bad = [](const float* v, int64_t n) {
    for (int64_t i = 0; i < n; ++i)
      if (!std::isfinite(v[i])) return true;
    return false;
  };
  for (size_t i = 0; i < layers_.size(); ++i) {
    const std::string where = "layer " + std::to_string(i) + " (" + layers_[i]->spec() + ") ";
    for (const Param& p : layers_[i]->params())
      if (bad(p.value.data(), p.shape.numel())) return where + p.name;
    if (i + 1 < acts_.size() && !acts_[i + 1].empty() && bad(acts_[i + 1].data(), acts_[i + 1].numel()))
      return where + "output";
  }
  return "";
}

void Model::set_defer_weight_grads(bool on) {
  defer_weight_grads_ = on;
  for (auto& l : layers_) l->set_defer_weight_grad(on);
}

void Model::zero_grad() {
  // Zero run by run, skipping the weight ranges that backward will leave as factors.
  int64_t start = 0;
  for (auto& l : layers_) {
    if (!l->defers_weight_grad_at(batch_) || l->params().empty()) continue;
    const Param& w = l->params()[0];
    const int64_t off = w.value.data() - params_.data();
    std::fill(grads_.data() + start, grads_.data() + off, 0.f);
    start = off + w.shape.numel();
  }
  std::fill(grads_.data() + start, grads_.data() + num_params_, 0.f);
}

void Model::backward(const Tensor& dlogits) {
  const size_t L = layers_.size();
  // The last layer's dy is dlogits itself; every other dy is the next layer's dx. A view
  // layer last (a spec ending in flatten) passes dlogits on through dacts_[L], which the
  // views before it alias.
  if (layers_.back()->is_view()) std::copy_n(dlogits.data(), dlogits.numel(), dacts_[L].data());
  for (size_t i = L; i-- > 0;) {
    if (passes_gradient_through(i)) continue;
    const Tensor& dy = (i + 1 == L) ? dlogits : dacts_[i + 1];
    StepProfiler* prof = active_profiler();
    if (prof) prof->current_layer = static_cast<int32_t>(i);
    TimedScope t(Phase::Backward, static_cast<int32_t>(i));
    layers_[i]->backward(acts_[i], acts_[i + 1], dy, dacts_[i]);
  }
  deferred_.clear();
  for (auto& l : layers_) {
    if (!l->defers_weight_grad_at(batch_)) continue;
    LowRankGrad f = l->deferred_weight_grad();
    f.offset = l->params()[0].value.data() - params_.data();
    deferred_.push_back(f);
  }
}

}  // namespace batchscope
