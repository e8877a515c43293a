// A growable byte buffer: the one allocation a Document writes into.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string_view>

// The Python extension defines TAGFLOW_PYMEM so the buffer comes from PyMem_RawRealloc: then
// tracemalloc (and so any per-render memory measurement) sees it like any Python allocation.
#ifdef TAGFLOW_PYMEM
extern "C" void* PyMem_RawRealloc(void* ptr, std::size_t size);
extern "C" void PyMem_RawFree(void* ptr);
#define TAGFLOW_REALLOC ::PyMem_RawRealloc
#define TAGFLOW_FREE ::PyMem_RawFree
#else
#define TAGFLOW_REALLOC std::realloc
#define TAGFLOW_FREE std::free
#endif

namespace tagflow {

class Buffer {
 public:
  Buffer() = default;
  explicit Buffer(std::size_t capacity) { reserve(capacity); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  Buffer(Buffer&& other) noexcept
      : data_(other.data_), size_(other.size_), capacity_(other.capacity_) {
    other.data_ = nullptr;
    other.size_ = other.capacity_ = 0;
  }
  Buffer& operator=(Buffer&& other) noexcept {
    if (this != &other) {
      TAGFLOW_FREE(data_);
      data_ = other.data_;
      size_ = other.size_;
      capacity_ = other.capacity_;
      other.data_ = nullptr;
      other.size_ = other.capacity_ = 0;
    }
    return *this;
  }
  ~Buffer() { TAGFLOW_FREE(data_); }

  [[nodiscard]] const char* data() const noexcept { return data_; }
  [[nodiscard]] char* data() noexcept { return data_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  [[nodiscard]] std::string_view view() const noexcept { return {data_, size_}; }
  [[nodiscard]] std::string_view view(std::size_t from) const noexcept {
    return {data_ + from, size_ - from};
  }

  void clear() noexcept { size_ = 0; }
  void resize_down(std::size_t n) noexcept {
    if (n < size_) size_ = n;
  }
  void reserve(std::size_t n) {
    if (n > capacity_) grow_to(n);
  }

  // Room for n more bytes; returns where they go. Call commit(k) after writing k <= n bytes.
  char* prepare(std::size_t n) {
    if (capacity_ - size_ < n) grow_to(size_ + n);
    return data_ + size_;
  }
  void commit(std::size_t n) noexcept { size_ += n; }

  void append(const char* s, std::size_t n) {
    if (n == 0) return;
    std::memcpy(prepare(n), s, n);
    size_ += n;
  }
  void append(std::string_view s) { append(s.data(), s.size()); }
  void push_back(char c) {
    if (size_ == capacity_) grow_to(size_ + 1);
    data_[size_++] = c;
  }

  // Removes [pos, pos + n) and shifts the rest down.
  void erase(std::size_t pos, std::size_t n) noexcept {
    std::memmove(data_ + pos, data_ + pos + n, size_ - pos - n);
    size_ -= n;
  }
  // Inserts s at pos (pos <= size()).
  void insert(std::size_t pos, std::string_view s) {
    prepare(s.size());
    std::memmove(data_ + pos + s.size(), data_ + pos, size_ - pos);
    std::memcpy(data_ + pos, s.data(), s.size());
    size_ += s.size();
  }
  // Drops the first n bytes (after they were handed to a sink).
  void consume_front(std::size_t n) noexcept { erase(0, n); }

 private:
  void grow_to(std::size_t need) {
    std::size_t cap = capacity_ < 256 ? 256 : capacity_;
    while (cap < need) cap += cap / 2 + 64;
    void* p = TAGFLOW_REALLOC(data_, cap);
    if (p == nullptr) throw std::bad_alloc();
    data_ = static_cast<char*>(p);
    capacity_ = cap;
  }

  char* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

}  // namespace tagflow
