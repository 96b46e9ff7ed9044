// `batchscope predict`: classifies images with a checkpoint. Images come from an IDX image
// file (--images) and/or PGM files (positional); each must match the model's input size.
//   batchscope predict --checkpoint model.safetensors --images data/mnist/t10k-images-idx3-ubyte
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "batchscope/checkpoint.h"
#include "batchscope/error.h"
#include "batchscope/trainer.h"
#include "cli/commands.h"
#include "cli/common.h"

namespace batchscope::cli {

namespace {
// PGM files start with "P2" or "P5"; anything else is read as IDX (plain or gzip'd).
bool looks_like_pgm(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  char m[2] = {0, 0};
  in.read(m, 2);
  return in && m[0] == 'P' && (m[1] == '2' || m[1] == '5');
}
}  // namespace

int cmd_predict(int argc, char** argv) {
  Flags f("predict", "--checkpoint FILE [--images IDX_FILE] [IMAGE.pgm ...] [flags]",
          "Classifies images with a checkpoint and prints each image's class and probability;\n"
          "with --json, one object with every image's class and all class probabilities.");
  f.add("checkpoint", "", "checkpoint file written by 'batchscope train --save'");
  f.add("images", "", "IDX image file (plain or .gz), or a PGM file");
  f.add("first", "0", "classify only the first N images of --images (0 = all)");
  add_compute_flags(f);
  f.add_bool("json", "print one JSON object on stdout");
  if (!f.parse(argc, argv)) return 0;
  if (!f.given("checkpoint")) throw UsageError("--checkpoint: required (a .safetensors file)");
  if (!f.given("images") && f.positional().empty())
    throw UsageError("batchscope predict: no images; give --images FILE or PGM files");
  const Compute compute = apply_compute_flags(f);
  const int64_t first = f.i64("first", 0, INT64_MAX);

  const std::string ckpt = f.str("checkpoint");
  CheckpointInfo info = read_checkpoint_info(ckpt);
  const int64_t H = info.in_sample[1], W = info.in_sample[2];

  // Gather every image into one uint8 dataset, remembering where each came from.
  Dataset all;
  all.images.h = H;
  all.images.w = W;
  std::vector<std::string> source;
  auto add = [&](const IdxImages& img, const std::string& file, int64_t limit) {
    if (img.h != H || img.w != W)
      throw DataError("reading '" + file + "': images are " + std::to_string(img.h) + "x" +
                      std::to_string(img.w) + "; the checkpoint's model expects " +
                      std::to_string(H) + "x" + std::to_string(W));
    const int64_t n = limit > 0 ? std::min(limit, img.n) : img.n;
    all.images.pixels.insert(all.images.pixels.end(), img.pixels.begin(),
                             img.pixels.begin() + n * H * W);
    for (int64_t i = 0; i < n; ++i)
      source.push_back(img.n == 1 && looks_like_pgm(file) ? file : file + "[" + std::to_string(i) + "]");
    all.images.n += n;
  };
  std::vector<std::string> files;
  if (f.given("images")) files.push_back(f.str("images"));
  for (const auto& p : f.positional()) files.push_back(p);
  for (size_t k = 0; k < files.size(); ++k) {
    const std::string& file = files[k];
    if (looks_like_pgm(file)) add(read_pgm(file), file, 0);
    else add(read_idx_images(file), file, k == 0 && f.given("images") ? first : 0);
  }
  all.labels.n = all.images.n;
  all.labels.labels.assign(static_cast<size_t>(all.images.n), 0);

  Model model(info.model_spec, info.in_sample, info.num_classes, *compute.ops, 0);
  load_checkpoint(ckpt, model, nullptr);
  const int64_t L = model.num_classes(), N = all.images.n;
  const bool json = f.boolean("json");
  std::vector<float> probs(static_cast<size_t>(N * L));
  predict(model, all, info.train.norm, probs.data());
  nlohmann::ordered_json predictions = nlohmann::ordered_json::array();
  for (int64_t i = 0; i < N; ++i) {
    const float* p = probs.data() + i * L;
    const int64_t cls = std::max_element(p, p + L) - p;
    const std::string& src = source[static_cast<size_t>(i)];
    if (json) {
      predictions.push_back({{"image", src}, {"class", cls}, {"probabilities", std::vector<float>(p, p + L)}});
    } else {
      std::printf("%s: class %lld (p=%.4f)\n", src.c_str(), static_cast<long long>(cls), p[cls]);
    }
  }
  if (json) {
    const nlohmann::ordered_json j = {{"checkpoint", ckpt}, {"predictions", predictions}};
    print_json(j);
  }
  return 0;
}

}  // namespace batchscope::cli
