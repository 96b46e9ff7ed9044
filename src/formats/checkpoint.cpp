// Checkpoint save/load on top of the safetensors layer: names, metadata and validation.
#include "batchscope/checkpoint.h"

#include <cstdio>
#include <cstring>

#include "batchscope/error.h"
#include "formats/safetensors.h"

namespace batchscope {

namespace {
constexpr const char* kFormat = "batchscope.checkpoint.v1";

std::string num(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::vector<int64_t> dims_of(const Shape& s) { return {s.dims().begin(), s.dims().end()}; }

std::string shape_csv(const Shape& s) {
  std::string out;
  for (int i = 0; i < s.rank(); ++i) {
    if (i) out += ',';
    out += std::to_string(s[i]);
  }
  return out;
}

struct MetaReader {
  const std::map<std::string, std::string>& md;
  std::string file;
  bool has(const std::string& key) const { return md.count(key) != 0; }
  const std::string& str(const std::string& key) const {
    auto it = md.find(key);
    if (it == md.end())
      throw DataError("reading '" + file + "': checkpoint metadata lacks '" + key + "'");
    return it->second;
  }
  double dbl(const std::string& key) const {
    const std::string& v = str(key);
    char* end = nullptr;
    double d = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != '\0')
      throw DataError("reading '" + file + "': checkpoint metadata '" + key + "' = '" + v +
                      "' is not a number");
    return d;
  }
  int64_t i64(const std::string& key) const {
    const std::string& v = str(key);
    char* end = nullptr;
    long long d = std::strtoll(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0' || d < 0)
      throw DataError("reading '" + file + "': checkpoint metadata '" + key + "' = '" + v +
                      "' is not a non-negative integer");
    return d;
  }
};
}  // namespace

void save_checkpoint(const std::filesystem::path& file, Model& m, Optimizer* opt,
                     const CheckpointInfo& info) {
  SafetensorsFile st;
  for (const auto& np : m.named_params())
    st.tensors[np.name] = st_from_floats(np.param->value.data(), dims_of(np.param->shape));
  if (opt) {
    for (auto& [slot, buf] : opt->state()) {
      for (const auto& np : m.named_params()) {
        const int64_t off = np.param->value.data() - m.params().data();
        st.tensors["optimizer." + slot + "." + np.name] =
            st_from_floats(buf->data() + off, dims_of(np.param->shape));
      }
    }
  }
  const TrainConfig& t = info.train;
  auto& md = st.metadata;
  md["format"] = kFormat;
  md["model"] = m.spec();
  md["input_shape"] = shape_csv(m.in_sample());
  md["num_classes"] = std::to_string(m.num_classes());
  md["epoch"] = std::to_string(info.epoch);
  md["step"] = std::to_string(info.step);
  md["epochs"] = std::to_string(t.epochs);
  md["batch_size"] = std::to_string(t.batch_size);
  // Every random stream is derived from the seed and the position (epoch for shuffling,
  // step for dropout), so the seed plus epoch/step is the complete RNG state.
  md["seed"] = std::to_string(t.seed);
  md["rng"] = "xoshiro256** streams derived from seed by (stream, epoch|step)";
  md["optimizer"] = to_string(t.optim.kind);
  md["optimizer_steps"] = std::to_string(opt ? opt->steps() : info.optimizer_steps);
  md["lr"] = num(t.optim.lr);
  md["momentum"] = num(t.optim.momentum);
  md["nesterov"] = t.optim.nesterov ? "1" : "0";
  md["weight_decay"] = num(t.optim.weight_decay);
  md["beta1"] = num(t.optim.beta1);
  md["beta2"] = num(t.optim.beta2);
  md["eps"] = num(t.optim.eps);
  md["schedule"] = to_string(t.schedule.kind);
  md["warmup_steps"] = std::to_string(t.schedule.warmup_steps);
  md["step_epochs"] = num(t.schedule.step_epochs);
  md["gamma"] = num(t.schedule.gamma);
  md["min_lr_ratio"] = num(t.schedule.min_lr_ratio);
  md["pct_start"] = num(t.schedule.pct_start);
  md["div_factor"] = num(t.schedule.div_factor);
  md["final_div_factor"] = num(t.schedule.final_div_factor);
  md["cycle_momentum"] = t.schedule.cycle_momentum ? "1" : "0";
  md["base_momentum"] = num(t.schedule.base_momentum);
  md["max_momentum"] = num(t.schedule.max_momentum);
  if (!t.recipe.empty()) md["recipe"] = t.recipe;
  md["norm_mean"] = num(t.norm.mean);
  md["norm_std"] = num(t.norm.std);
  write_safetensors(file, st);
}

namespace {
CheckpointInfo info_from(const SafetensorsFile& st, const std::string& file) {
  MetaReader r{st.metadata, file};
  if (r.str("format") != kFormat)
    throw DataError("reading '" + file + "': checkpoint format '" + r.str("format") +
                    "'; expected '" + kFormat + "'");
  CheckpointInfo info;
  info.model_spec = r.str("model");
  {
    std::vector<int64_t> dims;
    const std::string& s = r.str("input_shape");
    size_t start = 0;
    while (start < s.size()) {
      size_t c = s.find(',', start);
      dims.push_back(std::strtoll(s.substr(start, c - start).c_str(), nullptr, 10));
      if (c == std::string::npos) break;
      start = c + 1;
    }
    if (dims.empty() || dims.size() > 3)
      throw DataError("reading '" + file + "': checkpoint input_shape '" + s +
                      "'; expected 1 to 3 dimensions");
    for (int64_t d : dims)
      if (d <= 0 || d > 65536)
        throw DataError("reading '" + file + "': checkpoint input_shape '" + s +
                        "' has an invalid dimension");
    info.in_sample = Shape::from_span(dims);
  }
  info.num_classes = r.i64("num_classes");
  if (info.num_classes < 1 || info.num_classes > 256)
    throw DataError("reading '" + file + "': checkpoint num_classes " +
                    std::to_string(info.num_classes) + "; expected 1 to 256");
  info.epoch = r.i64("epoch");
  info.step = r.i64("step");
  TrainConfig& t = info.train;
  t.epochs = r.i64("epochs");
  t.batch_size = r.i64("batch_size");
  t.seed = static_cast<uint64_t>(std::strtoull(r.str("seed").c_str(), nullptr, 10));
  try {
    t.optim.kind = parse_optimizer(r.str("optimizer"));
    t.schedule.kind = parse_schedule(r.str("schedule"));
  } catch (const UsageError& e) {
    throw DataError("reading '" + file + "': checkpoint metadata: " + option_message(e, /*flag_style=*/false));
  }
  info.optimizer_steps = r.i64("optimizer_steps");
  t.optim.lr = r.dbl("lr");
  t.optim.momentum = r.dbl("momentum");
  t.optim.nesterov = r.str("nesterov") == "1";
  t.optim.weight_decay = r.dbl("weight_decay");
  t.optim.beta1 = r.dbl("beta1");
  t.optim.beta2 = r.dbl("beta2");
  t.optim.eps = r.dbl("eps");
  t.schedule.warmup_steps = r.i64("warmup_steps");
  t.schedule.step_epochs = r.dbl("step_epochs");
  t.schedule.gamma = r.dbl("gamma");
  t.schedule.min_lr_ratio = r.dbl("min_lr_ratio");
  // The one-cycle settings and the recipe came later: older checkpoints keep the defaults.
  if (r.has("pct_start")) {
    t.schedule.pct_start = r.dbl("pct_start");
    t.schedule.div_factor = r.dbl("div_factor");
    t.schedule.final_div_factor = r.dbl("final_div_factor");
    t.schedule.cycle_momentum = r.str("cycle_momentum") == "1";
    t.schedule.base_momentum = r.dbl("base_momentum");
    t.schedule.max_momentum = r.dbl("max_momentum");
  }
  if (r.has("recipe")) t.recipe = r.str("recipe");
  t.norm.mean = static_cast<float>(r.dbl("norm_mean"));
  t.norm.std = static_cast<float>(r.dbl("norm_std"));
  if (!(t.norm.std > 0))
    throw DataError("reading '" + file + "': checkpoint norm_std must be positive");
  return info;
}
}  // namespace

CheckpointInfo read_checkpoint_info(const std::filesystem::path& file) {
  return info_from(read_safetensors(file), file.string());
}

void load_checkpoint(const std::filesystem::path& file, Model& m, Optimizer* opt) {
  const std::string name = file.string();
  SafetensorsFile st = read_safetensors(file);
  CheckpointInfo info = info_from(st, name);
  if (info.model_spec != m.spec())
    throw DataError("reading '" + name + "': checkpoint holds model '" + info.model_spec +
                    "'; expected '" + m.spec() + "'");
  for (const auto& [tname, t] : st.tensors) {
    if (tname.rfind("optimizer.", 0) == 0) continue;
    bool known = false;
    for (const auto& np : m.named_params()) known |= (np.name == tname);
    if (!known)
      throw DataError("reading '" + name + "': tensor '" + tname + "' belongs to no layer of '" +
                      m.spec() + "'");
  }
  for (const auto& np : m.named_params())
    st_to_floats(st, np.name, dims_of(np.param->shape), np.param->value.data(), name);
  if (opt) {
    if (info.train.optim.kind != opt->config().kind)
      throw DataError("reading '" + name + "': checkpoint optimizer is " +
                      to_string(info.train.optim.kind) + "; expected " +
                      to_string(opt->config().kind));
    for (auto& [slot, buf] : opt->state()) {
      for (const auto& np : m.named_params()) {
        const int64_t off = np.param->value.data() - m.params().data();
        st_to_floats(st, "optimizer." + slot + "." + np.name, dims_of(np.param->shape),
                     buf->data() + off, name);
      }
    }
    opt->set_steps(info.optimizer_steps);
  }
}

}  // namespace batchscope
