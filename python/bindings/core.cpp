// batchscope._core: the Python module's compiled part, built against include/batchscope/ alone.
// NumPy arrays are checked here (dtype, shape, contiguity, label range: ValueError naming the
// argument) and copied into a Dataset, so the C++ side never sees a Python object and runs with
// the GIL released. The Python layer (batchscope/__init__.py) adds sweep, profile and peak.
#include <omp.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "batchscope/backend.h"
#include "batchscope/checkpoint.h"
#include "batchscope/commands.h"
#include "batchscope/error.h"
#include "batchscope/idx.h"
#include "batchscope/model.h"
#include "batchscope/optimizer.h"
#include "batchscope/trainer.h"

namespace py = pybind11;
using namespace batchscope;

namespace {

int cpus_allowed() {
  cpu_set_t set;
  return sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
}

std::string shape_text(const py::array& a) {
  std::string s = "[";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
  return s + "]";
}

std::string dtype_text(const py::array& a) { return py::str(a.dtype()).cast<std::string>(); }

py::array as_array(const py::handle& obj, const char* arg) {
  if (!py::isinstance<py::array>(obj))
    throw py::value_error(std::string(arg) + ": expected a NumPy array, got " +
                          py::str(py::type::of(obj).attr("__name__")).cast<std::string>());
  return py::reinterpret_borrow<py::array>(obj);
}

// images: uint8 [N, H, W] (pixels, normalised with `norm` at batch time) or float32
// [N, C, H, W] (used as given), matching the model's input [C, H, W].
Dataset images_to_dataset(const py::handle& obj, const Shape& in_sample, const char* arg = "images") {
  const py::array a = as_array(obj, arg);
  const int64_t C = in_sample[0], H = in_sample[1], W = in_sample[2];
  const std::string want = "uint8 [N, " + std::to_string(H) + ", " + std::to_string(W) + "]" +
                           (C == 1 ? " or " : " (a one-channel model only) or ") + "float32 [N, " +
                           std::to_string(C) + ", " + std::to_string(H) + ", " + std::to_string(W) + "]";
  const bool u8 = a.dtype().is(py::dtype::of<uint8_t>()), f32 = a.dtype().is(py::dtype::of<float>());
  const bool shape_ok = u8 ? (a.ndim() == 3 && C == 1 && a.shape(1) == H && a.shape(2) == W)
                           : (f32 && a.ndim() == 4 && a.shape(1) == C && a.shape(2) == H && a.shape(3) == W);
  if (!(u8 || f32) || !shape_ok)
    throw py::value_error(std::string(arg) + ": expected " + want + " for this model; got " + dtype_text(a) + " " +
                          shape_text(a));
  if (a.shape(0) < 1) throw py::value_error(std::string(arg) + ": expected at least one image; got " + shape_text(a));
  if (!(a.flags() & py::array::c_style))
    throw py::value_error(std::string(arg) + ": expected a C-contiguous array; got a strided view " + shape_text(a) +
                          " (numpy.ascontiguousarray makes a contiguous copy)");
  Dataset d;
  d.name = arg;
  d.images.n = a.shape(0);
  d.images.h = H;
  d.images.w = W;
  d.channels = C;
  if (u8) {
    const auto* p = static_cast<const uint8_t*>(a.data());
    d.images.pixels.assign(p, p + a.size());
  } else {
    const auto* p = static_cast<const float*>(a.data());
    d.samples.assign(p, p + a.size());
  }
  return d;
}

// labels: any integer dtype, [N], every value in [0, num_classes).
void add_labels(Dataset& d, const py::handle& obj, int64_t num_classes, const char* arg = "labels") {
  const py::array a = as_array(obj, arg);
  const char kind = a.dtype().kind();
  if ((kind != 'i' && kind != 'u') || a.ndim() != 1)
    throw py::value_error(std::string(arg) + ": expected integer class labels [N]; got " + dtype_text(a) + " " +
                          shape_text(a));
  if (a.shape(0) != d.images.n)
    throw py::value_error(std::string(arg) + ": " + std::to_string(a.shape(0)) + " labels for " +
                          std::to_string(d.images.n) + " images; expected one per image");
  const auto v = py::array_t<int64_t, py::array::forcecast>::ensure(a);
  const int64_t* p = v.data();
  d.labels.n = d.images.n;
  d.labels.labels.resize(static_cast<size_t>(d.images.n));
  for (int64_t i = 0; i < d.images.n; ++i) {
    if (p[i] < 0 || p[i] >= num_classes)
      throw py::value_error(std::string(arg) + ": label " + std::to_string(p[i]) + " at index " + std::to_string(i) +
                            " is out of range; expected 0 to " + std::to_string(num_classes - 1));
    d.labels.labels[static_cast<size_t>(i)] = static_cast<uint8_t>(p[i]);
  }
}

void require(bool ok, const std::string& arg, const std::string& what) {
  if (!ok) throw py::value_error(arg + ": " + what);
}

// A step callback's Python exception (or a KeyboardInterrupt seen while checking for signals),
// carried out of the GIL-free training loop and raised once it has returned.
struct PendingError {
  std::exception_ptr error;
  std::atomic<bool> stop{false};
};

class PyModel {
 public:
  PyModel(const std::string& spec, const std::string& backend, const std::string& conv_algo,
          const std::string& precision, std::optional<int> threads, std::vector<int64_t> input_shape,
          int64_t num_classes, uint64_t seed)
      : backend_(backend), conv_algo_(conv_algo), precision_(precision) {
    require(input_shape.size() == 3 && input_shape[0] > 0 && input_shape[1] > 0 && input_shape[2] > 0, "input_shape",
            "expected (channels, height, width), each at least 1");
    require(num_classes >= 2 && num_classes <= 256, "num_classes", "expected 2 to 256");
    set_threads(threads);
    const kernels::OpTable& ops = kernels::kernel_table(backend, conv_algo, precision);
    model_ = std::make_unique<Model>(spec, Shape::from_span(input_shape), num_classes, ops, seed);
    seed_ = seed;
  }

  void set_threads(std::optional<int> threads) {
    require(!threads || (*threads >= 1 && *threads <= 1024), "threads", "expected 1 to 1024 (None: every CPU allowed)");
    threads_ = threads ? *threads : cpus_allowed();
  }

  Model& model() { return *model_; }
  int threads() const { return threads_; }
  const std::string& backend() const { return backend_; }
  Normalization& norm() { return norm_; }

  py::dict fit(const py::handle& images, const py::handle& labels, int64_t batch_size, int64_t epochs,
               std::optional<double> lr, const std::string& optimizer, double momentum, bool nesterov,
               double weight_decay, double beta1, double beta2, const std::string& schedule, int64_t warmup_steps,
               double step_epochs, double gamma, double pct_start, double div_factor, double final_div_factor,
               bool cycle_momentum, double base_momentum, double max_momentum,
               std::optional<uint64_t> seed, double mean, double std_dev,
               int64_t grad_shards, const py::object& validation, const py::object& progress) {
    require(epochs >= 1, "epochs", "expected at least 1; got " + std::to_string(epochs));
    require(!lr || (*lr > 0 && *lr < 1e3), "lr", "expected a learning rate above 0 and below 1000 (None: the default rule)");
    require(momentum >= 0 && momentum < 1, "momentum", "expected 0 <= momentum < 1");
    require(weight_decay >= 0 && weight_decay <= 1, "weight_decay", "expected 0 to 1");
    require(beta1 >= 0 && beta1 < 1, "beta1", "expected 0 <= beta1 < 1");
    require(beta2 >= 0 && beta2 < 1, "beta2", "expected 0 <= beta2 < 1");
    require(warmup_steps >= 0, "warmup_steps", "expected 0 or more");
    require(step_epochs > 0, "step_epochs", "expected more than 0");
    require(gamma >= 0 && gamma <= 1, "gamma", "expected 0 to 1");
    require(std_dev > 0, "std", "expected a standard deviation above 0");
    norm_ = {static_cast<float>(mean), static_cast<float>(std_dev)};
    auto data = std::make_unique<Dataset>(images_to_dataset(images, model_->in_sample()));
    add_labels(*data, labels, model_->num_classes());
    std::optional<Dataset> val;
    if (!validation.is_none()) {
      if (!py::isinstance<py::tuple>(validation) || py::len(validation) != 2)
        throw py::value_error("validation: expected a tuple (images, labels)");
      const py::tuple t = validation.cast<py::tuple>();
      val = images_to_dataset(t[0], model_->in_sample(), "validation images");
      add_labels(*val, t[1], model_->num_classes(), "validation labels");
    }

    TrainConfig cfg;
    cfg.epochs = epochs;
    cfg.batch_size = batch_size;
    cfg.optim.kind = parse_optimizer(optimizer);
    cfg.optim.lr = lr ? *lr : default_learning_rate(cfg.optim.kind, batch_size);
    cfg.optim.momentum = momentum;
    cfg.optim.nesterov = nesterov && momentum != 0.0;
    cfg.optim.weight_decay = weight_decay;
    cfg.optim.beta1 = beta1;
    cfg.optim.beta2 = beta2;
    cfg.schedule.kind = parse_schedule(schedule);
    cfg.schedule.warmup_steps = warmup_steps;
    cfg.schedule.step_epochs = step_epochs;
    cfg.schedule.gamma = gamma;
    cfg.schedule.pct_start = pct_start;
    cfg.schedule.div_factor = div_factor;
    cfg.schedule.final_div_factor = final_div_factor;
    cfg.schedule.cycle_momentum = cycle_momentum;
    cfg.schedule.base_momentum = base_momentum;
    cfg.schedule.max_momentum = max_momentum;
    cfg.seed = seed ? *seed : seed_;
    cfg.norm = norm_;
    cfg.grad_shards = grad_shards;
    // A new run: its own optimizer state and schedule; the weights carry on from where they are.
    trainer_.reset();
    fit_data_ = std::move(data);
    trainer_ = std::make_unique<Trainer>(*model_, cfg, *fit_data_);

    PendingError pending;
    const bool has_progress = !progress.is_none();
    auto last_check = std::chrono::steady_clock::now();
    const ProgressFn on_step = [&](const StepProgress& sp) {
      // The GIL only for the callback, and otherwise every 0.1 s to see Ctrl-C.
      const auto now = std::chrono::steady_clock::now();
      if (!has_progress && now - last_check < std::chrono::milliseconds(100)) return;
      last_check = now;
      py::gil_scoped_acquire gil;
      try {
        if (PyErr_CheckSignals() != 0) throw py::error_already_set();
        if (has_progress) {
          py::dict d;
          d["epoch"] = sp.epoch;
          d["step"] = sp.step_in_epoch;
          d["steps_per_epoch"] = sp.steps_per_epoch;
          d["loss"] = sp.loss;
          d["accuracy"] = sp.accuracy;
          d["images_per_second"] = sp.images_per_second;
          d["lr"] = sp.lr;
          const py::object r = progress(d);
          if (!r.is_none() && !r.cast<bool>()) pending.stop = true;  // False: stop after this step
        }
      } catch (...) {
        pending.error = std::current_exception();
        pending.stop = true;
      }
    };

    py::list history;
    double seconds = 0, last_loss = 0, last_accuracy = 0;
    int64_t images_trained = 0;
    bool stopped = false;
    while (trainer_->epoch() < cfg.epochs && !stopped) {
      StepProgress p;
      EvalResult ev;
      double secs = 0;
      int64_t steps = 0;
      {
        py::gil_scoped_release nogil;
        omp_set_num_threads(threads_);
        const int64_t first = trainer_->step();
        const auto t0 = std::chrono::steady_clock::now();
        p = trainer_->train_epoch(on_step, &pending.stop);
        secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        steps = trainer_->step() - first;
        if (val && !p.stopped) ev = evaluate(*model_, *val, norm_, std::clamp<int64_t>(batch_size, 256, 1024));
      }
      if (pending.error) std::rethrow_exception(pending.error);
      stopped = p.stopped;
      seconds += secs;
      images_trained += steps * batch_size;
      last_loss = p.loss;
      last_accuracy = p.accuracy;
      py::dict rec;
      rec["epoch"] = trainer_->epoch() + (p.stopped ? 1 : 0);
      rec["steps"] = steps;
      rec["loss"] = p.loss;
      rec["accuracy"] = p.accuracy;
      rec["seconds"] = secs;
      rec["images_per_second"] = secs > 0 ? static_cast<double>(steps * batch_size) / secs : 0.0;
      if (val && !p.stopped) {
        rec["val_loss"] = ev.loss;
        rec["val_accuracy"] = ev.accuracy;
      }
      history.append(rec);
    }
    py::dict r;
    r["epochs"] = trainer_->epoch();
    r["steps"] = trainer_->step();
    r["batch_size"] = batch_size;
    r["lr"] = cfg.optim.lr;
    r["optimizer"] = optimizer;
    r["loss"] = last_loss;
    r["accuracy"] = last_accuracy;
    r["seconds"] = seconds;
    r["images_per_second"] = seconds > 0 ? static_cast<double>(images_trained) / seconds : 0.0;
    r["threads"] = threads_;
    r["stopped"] = stopped;
    r["history"] = history;
    return r;
  }

  py::dict evaluate_arrays(const py::handle& images, const py::handle& labels, int64_t batch_size) {
    require(batch_size >= 1, "batch_size", "expected at least 1");
    Dataset d = images_to_dataset(images, model_->in_sample());
    add_labels(d, labels, model_->num_classes());
    EvalResult ev;
    {
      py::gil_scoped_release nogil;
      omp_set_num_threads(threads_);
      ev = evaluate(*model_, d, norm_, batch_size);
    }
    const int64_t L = ev.num_classes;
    py::array_t<int64_t> confusion({L, L});
    std::memcpy(confusion.mutable_data(), ev.confusion.data(), ev.confusion.size() * sizeof(int64_t));
    py::list per_class;
    for (int64_t c = 0; c < L; ++c) per_class.append(ev.class_accuracy(c));
    py::dict r;
    r["n"] = ev.n;
    r["loss"] = ev.loss;
    r["accuracy"] = ev.accuracy;
    r["class_accuracy"] = per_class;
    r["confusion"] = confusion;
    return r;
  }

  py::array_t<float> predict_arrays(const py::handle& images, int64_t batch_size) {
    require(batch_size >= 1, "batch_size", "expected at least 1");
    const Dataset d = images_to_dataset(images, model_->in_sample());
    py::array_t<float> probs({d.images.n, model_->num_classes()});
    float* out = probs.mutable_data();
    {
      py::gil_scoped_release nogil;
      omp_set_num_threads(threads_);
      predict(*model_, d, norm_, out, batch_size);
    }
    return probs;
  }

  void save(const std::string& path) {
    CheckpointInfo info;
    Optimizer* opt = nullptr;
    if (trainer_) {
      info.epoch = trainer_->epoch();
      info.step = trainer_->step();
      info.train = trainer_->config();
      opt = &trainer_->optimizer();
    } else {
      info.train.norm = norm_;
      info.train.seed = seed_;
    }
    py::gil_scoped_release nogil;
    save_checkpoint(path, *model_, opt, info);
  }

  py::dict state_dict() const {
    py::dict d;
    for (const NamedParam& np : model_->named_params()) {
      const auto dims = np.param->shape.dims();
      py::array_t<float> a(std::vector<py::ssize_t>(dims.begin(), dims.end()));
      std::memcpy(a.mutable_data(), np.param->value.data(), static_cast<size_t>(np.param->value.numel()) * sizeof(float));
      d[py::str(np.name)] = a;
    }
    return d;
  }

  static std::unique_ptr<PyModel> load(const std::string& path, const std::string& backend,
                                       const std::string& conv_algo, const std::string& precision,
                                       std::optional<int> threads) {
    CheckpointInfo info;
    {
      py::gil_scoped_release nogil;
      info = read_checkpoint_info(path);
    }
    const auto dims = info.in_sample.dims();
    auto m = std::make_unique<PyModel>(info.model_spec, backend, conv_algo, precision, threads,
                                       std::vector<int64_t>(dims.begin(), dims.end()), info.num_classes, info.train.seed);
    m->norm_ = info.train.norm;
    py::gil_scoped_release nogil;
    load_checkpoint(path, *m->model_, nullptr);
    return m;
  }

 private:
  std::unique_ptr<Model> model_;
  std::string backend_, conv_algo_, precision_;
  int threads_ = 1;
  uint64_t seed_ = 1;
  Normalization norm_;
  // The last fit's run (its data copy, optimizer state and position), so save() can write a
  // checkpoint that `batchscope train --resume` continues.
  std::unique_ptr<Dataset> fit_data_;
  std::unique_ptr<Trainer> trainer_;
};

py::array read_idx(const std::string& path) {
  int rank = 0;
  IdxImages img;
  IdxLabels lab;
  {
    py::gil_scoped_release nogil;
    rank = idx_rank(path);
    if (rank == 3) img = read_idx_images(path);
    else lab = read_idx_labels(path, 0);
  }
  if (rank == 3) {
    py::array_t<uint8_t> a({img.n, img.h, img.w});
    std::memcpy(a.mutable_data(), img.pixels.data(), img.pixels.size());
    return a;
  }
  py::array_t<uint8_t> a(lab.n);
  std::memcpy(a.mutable_data(), lab.labels.data(), lab.labels.size());
  return a;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "batchscope's compiled part; use the batchscope package, not this module";
  static py::exception<Error> error_type(m, "Error", PyExc_RuntimeError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const UsageError& e) {
      PyErr_SetString(PyExc_ValueError, option_message(e, /*flag_style=*/false).c_str());
    } catch (const ShapeError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const DataError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const Error& e) {
      PyErr_SetString(error_type.ptr(), e.what());
    }
  });

  m.def("read_idx", &read_idx, py::arg("path"),
        "An IDX file (plain or gzip'd) as a NumPy array: images uint8 [N, H, W], labels uint8 [N].");
  m.def("run_command_json", [](const std::string& command, const std::vector<std::string>& flags) {
    py::gil_scoped_release nogil;
    return run_command_json(command, flags);
  }, py::arg("command"), py::arg("flags"));
  m.def("presets", [] {
    py::list l;
    for (const Preset& p : presets()) {
      py::dict d;
      d["name"] = std::string(p.name);
      d["spec"] = std::string(p.spec);
      d["description"] = std::string(p.description);
      l.append(d);
    }
    return l;
  });

  py::class_<PyModel>(m, "Model")
      .def(py::init<const std::string&, const std::string&, const std::string&, const std::string&,
                    std::optional<int>, std::vector<int64_t>, int64_t, uint64_t>(),
           py::arg("spec") = "mnist-cnn", py::kw_only(), py::arg("backend") = "onednn",
           py::arg("conv_algo") = "direct", py::arg("precision") = "f32", py::arg("threads") = py::none(),
           py::arg("input_shape") = std::vector<int64_t>{1, 28, 28}, py::arg("num_classes") = 10,
           py::arg("seed") = 1)
      .def_property_readonly("spec", [](PyModel& s) { return s.model().spec(); })
      .def_property_readonly("num_params", [](PyModel& s) { return s.model().num_params(); })
      .def_property_readonly("input_shape", [](PyModel& s) { return py::tuple(py::cast(std::vector<int64_t>(s.model().in_sample().dims().begin(), s.model().in_sample().dims().end()))); })
      .def_property_readonly("num_classes", [](PyModel& s) { return s.model().num_classes(); })
      .def_property_readonly("macs_per_image", [](PyModel& s) { return s.model().macs_per_sample(); })
      .def_property_readonly("backend", &PyModel::backend)
      .def_property("threads", &PyModel::threads, &PyModel::set_threads)
      .def("fit", &PyModel::fit, py::arg("images"), py::arg("labels"), py::kw_only(), py::arg("batch_size") = 64,
           py::arg("epochs") = 1, py::arg("lr") = py::none(), py::arg("optimizer") = "sgd", py::arg("momentum") = 0.9,
           py::arg("nesterov") = true, py::arg("weight_decay") = 0.0, py::arg("beta1") = 0.9,
           py::arg("beta2") = 0.999, py::arg("schedule") = "cosine", py::arg("warmup_steps") = 0,
           py::arg("step_epochs") = 1.0, py::arg("gamma") = 0.1, py::arg("pct_start") = 0.3,
           py::arg("div_factor") = 25.0, py::arg("final_div_factor") = 1e4, py::arg("cycle_momentum") = true,
           py::arg("base_momentum") = 0.85, py::arg("max_momentum") = 0.95, py::arg("seed") = py::none(),
           py::arg("mean") = 0.1307, py::arg("std") = 0.3081, py::arg("grad_shards") = 1,
           py::arg("validation") = py::none(), py::arg("progress") = py::none())
      .def("evaluate", &PyModel::evaluate_arrays, py::arg("images"), py::arg("labels"), py::kw_only(),
           py::arg("batch_size") = 500)
      .def("predict", &PyModel::predict_arrays, py::arg("images"), py::kw_only(), py::arg("batch_size") = 256)
      .def("save", &PyModel::save, py::arg("path"))
      .def("state_dict", &PyModel::state_dict)
      .def("__repr__", [](PyModel& s) {
        return "batchscope.Model('" + s.model().spec() + "', " + std::to_string(s.model().num_params()) +
               " parameters, backend='" + s.backend() + "', threads=" + std::to_string(s.threads()) + ")";
      });
  m.def("load", &PyModel::load, py::arg("path"), py::kw_only(), py::arg("backend") = "onednn",
        py::arg("conv_algo") = "direct", py::arg("precision") = "f32", py::arg("threads") = py::none());
}
