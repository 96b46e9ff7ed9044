// Model specs: presets match PyTorch's parameter counts and MISSION.md's work per image;
// specs that do not fit are refused up front, naming the layer and the shapes.
#include <gtest/gtest.h>

#include "batchscope/error.h"
#include "batchscope/model.h"
#include "kernels/kernels.h"

namespace batchscope {
namespace {

const Shape kMnist{1, 28, 28};

Model build(const std::string& spec, int64_t classes = 10) {
  return Model(spec, kMnist, classes, kernels::Backend::Reference, 1);
}

TEST(ModelSpec, PresetsMatchPyTorchParameterCounts) {
  // Parameter counts of the same nn.Sequential in PyTorch.
  EXPECT_EQ(build("mnist-cnn").num_params(), 320 + 18496 + 1179776 + 1290);
  EXPECT_EQ(build("lenet5").num_params(), 156 + 2416 + 48120 + 10164 + 850);
  EXPECT_EQ(build("tiny").num_params(), 80 + 13530);
  // MISSION.md: 12.0 M multiply-adds forward for mnist-cnn.
  EXPECT_EQ(build("mnist-cnn").macs_per_sample(),
            32 * 26 * 26 * 9 + 64 * 24 * 24 * 288 + 9216 * 128 + 128 * 10);
}

TEST(ModelSpec, StateDictNamesFollowSequentialIndices) {
  Model m = build("mnist-cnn");
  std::vector<std::string> names;
  for (const auto& np : m.named_params()) names.push_back(np.name);
  EXPECT_EQ(names, (std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias",
                                             "6.weight", "6.bias", "8.weight", "8.bias"}));
  EXPECT_EQ(m.named_params()[0].param->shape, (Shape{32, 1, 3, 3}));
  EXPECT_EQ(m.named_params()[4].param->shape, (Shape{128, 9216}));
}

TEST(ModelSpec, CanonicalSpecReparsesToItself) {
  Model m = build("conv2d:4:5:pad=2,relu,maxpool2d:2,dropout:0.25,flatten,dense:10");
  EXPECT_EQ(m.spec(), "conv2d:4:5:stride=1:pad=2,relu,maxpool2d:2:stride=2,dropout:0.25,flatten,dense:10");
  EXPECT_EQ(build(m.spec()).spec(), m.spec());
  EXPECT_EQ(build("conv2d:filters=4:kernel=5:pad=2,relu,maxpool2d:2,flatten,dense:10").num_params(),
            build("conv2d:4:5:pad=2,relu,maxpool2d:2,flatten,dense:10").num_params());
}

void expect_shape_error(const std::string& spec, const std::vector<std::string>& phrases,
                        int64_t classes = 10) {
  try {
    build(spec, classes);
    ADD_FAILURE() << "spec '" << spec << "' was accepted";
  } catch (const ShapeError& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    for (const auto& p : phrases) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
  }
}

TEST(ModelSpec, RefusesSpecsThatDoNotFit) {
  expect_shape_error("conv2d:8:3,relu,dense:10", {"layer 2", "dense:10", "[8,26,26]", "flatten"});
  expect_shape_error("conv2d:8:30,flatten,dense:10", {"layer 0", "30x30", "[1,28,28]"});
  expect_shape_error("conv2d:8:3,flatten,dense:7", {"[7]", "expected [10]"});
  expect_shape_error("maxpool2d:64,flatten,dense:10", {"layer 0", "[1,28,28]"});
  expect_shape_error("flatten,dense:10,maxpool2d:2", {"layer 2", "[10]"});
  expect_shape_error("conv2d:8:3:pad=3,flatten,dense:10", {"pad 3"});
  expect_shape_error("flatten,dense:1000000,dense:10", {"parameters", "at most"});
}

TEST(ModelSpec, RefusesMalformedTokens) {
  expect_shape_error("conv3d:8:3,flatten,dense:10", {"unknown layer 'conv3d'", "conv2d", "mnist-cnn"});
  expect_shape_error("conv2d:eight:3,flatten,dense:10", {"'eight' is not an integer"});
  expect_shape_error("conv2d:8,flatten,dense:10", {"needs kernel"});
  expect_shape_error("conv2d:8:3:dilation=2,flatten,dense:10", {"unknown argument 'dilation'"});
  expect_shape_error("conv2d:0:3,flatten,dense:10", {"out of range"});
  expect_shape_error("flatten,,dense:10", {"empty layer"});
  expect_shape_error("flatten,dropout:1.5,dense:10", {"dropout", "out of range"});
  expect_shape_error("relu:3,flatten,dense:10", {"at most 0"});
  expect_shape_error("", {"empty"});
}

TEST(ModelSpec, InitialisationIsPyTorchsUniformBoundAndSeeded) {
  Model a = build("mnist-cnn"), b = build("mnist-cnn");
  Model c("mnist-cnn", kMnist, 10, kernels::Backend::Reference, 2);
  ASSERT_EQ(a.num_params(), c.num_params());
  bool differs = false;
  for (int64_t i = 0; i < a.num_params(); ++i) {
    ASSERT_EQ(a.params()[i], b.params()[i]);
    differs |= a.params()[i] != c.params()[i];
  }
  EXPECT_TRUE(differs);
  // 6.weight is nn.Linear(9216, 128): U(-1/96, 1/96); its spread must fill that range.
  const Param& fc = *a.named_params()[4].param;
  float lo = 1, hi = -1;
  for (int64_t i = 0; i < fc.shape.numel(); ++i) {
    lo = std::min(lo, fc.value[i]);
    hi = std::max(hi, fc.value[i]);
  }
  EXPECT_GE(lo, -1.0f / 96);
  EXPECT_LE(hi, 1.0f / 96);
  EXPECT_LT(lo, -0.99f / 96);
  EXPECT_GT(hi, 0.99f / 96);
}

TEST(Tensor, StorageIsCacheLineAligned) {
  for (int64_t n : {1, 3, 17, 1000}) {
    Tensor t(Shape{n});
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data()) % 64, 0u);
    for (int64_t i = 0; i < n; ++i) EXPECT_EQ(t[i], 0.f);
  }
  EXPECT_EQ((Shape{2, 3, 4}).numel(), 24);
  EXPECT_EQ((Shape{2, 3, 4}).with_batch(5), (Shape{5, 3, 4}));
  EXPECT_EQ((Shape{2, 3, 4}).str(), "[2,3,4]");
}

}  // namespace
}  // namespace batchscope
