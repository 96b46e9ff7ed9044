// Shape and Tensor: dense row-major float32 arrays, 64-byte aligned.
// A Tensor either owns its storage or is a view into someone else's (a model's flat
// parameter buffer, say); views never free. No autograd, no strides, no dtypes: layers
// pass activations as [N,C,H,W] (or [N,F] for dense) and know their own shapes.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>

namespace batchscope {

// Up to 4 dimensions, outermost first.
class Shape {
 public:
  static constexpr int kMaxRank = 4;
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims);
  static Shape from_span(std::span<const int64_t> dims);

  int rank() const { return rank_; }
  int64_t operator[](int i) const { return dims_[static_cast<size_t>(i)]; }
  int64_t& operator[](int i) { return dims_[static_cast<size_t>(i)]; }
  int64_t numel() const;
  std::span<const int64_t> dims() const { return {dims_.data(), static_cast<size_t>(rank_)}; }
  // The same shape with the outermost (batch) dimension replaced.
  Shape with_batch(int64_t n) const;
  // Everything but the batch dimension: per-sample element count.
  int64_t sample_numel() const;
  std::string str() const;  // "[64,32,26,26]"
  bool operator==(const Shape& o) const;

 private:
  std::array<int64_t, kMaxRank> dims_{};
  int rank_ = 0;
};

// 64-byte aligned float buffer (one AVX-512 register, one cache line).
float* aligned_alloc_floats(size_t n);
void aligned_free(float* p);

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(const Shape& shape);  // owning, zero-filled
  static Tensor view(float* data, const Shape& shape);

  // Reallocate (owning tensors only) if the element count grows; contents unspecified after.
  void resize(const Shape& shape);

  float* data() { return data_; }
  const float* data() const { return data_; }
  const Shape& shape() const { return shape_; }
  int64_t numel() const { return shape_.numel(); }
  float& operator[](int64_t i) { return data_[i]; }
  float operator[](int64_t i) const { return data_[i]; }
  std::span<float> span() { return {data_, static_cast<size_t>(numel())}; }
  std::span<const float> span() const { return {data_, static_cast<size_t>(numel())}; }
  void fill(float v);
  bool empty() const { return data_ == nullptr; }

 private:
  struct Free {
    void operator()(float* p) const { aligned_free(p); }
  };
  std::unique_ptr<float, Free> owned_;
  size_t capacity_ = 0;
  float* data_ = nullptr;
  Shape shape_;
};

}  // namespace batchscope
