// RAII over one io_uring instance (liburing): submission, waiting with a timeout, completions;
// and over a ring of provided buffers that multishot receives fill.
#pragma once

#include <liburing.h>

#include <cstddef>
#include <cstdint>

namespace ringloop {

class Ring {
 public:
  // Throws std::system_error naming io_uring when the kernel refuses a ring (disabled by
  // sysctl kernel.io_uring_disabled, seccomp, too old a kernel).
  explicit Ring(unsigned entries);
  ~Ring();
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  // A zeroed submission entry; when the queue is full, what is queued goes to the kernel first.
  io_uring_sqe* sqe();
  // Hands queued entries to the kernel and waits up to `timeout_ns` for a completion
  // (< 0: no limit, 0: no wait). Returns 0, or -errno (-EINTR: a signal arrived).
  int submit_and_wait(std::int64_t timeout_ns);
  // Calls f(const io_uring_cqe&) for each completion available now; returns how many.
  template <class F>
  unsigned drain(F&& f) {
    unsigned n = 0;
    unsigned head;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      f(*cqe);
      ++n;
    }
    io_uring_cq_advance(&ring_, n);
    return n;
  }
  unsigned pending() const { return io_uring_sq_ready(&ring_); }
  // Asks the kernel to cancel every request in flight (their completions still arrive).
  void cancel_all();
  io_uring* get() { return &ring_; }

 private:
  io_uring ring_{};
};

// `count` buffers of `size` bytes registered with a ring as buffer group `group`: a receive
// with IOSQE_BUFFER_SELECT takes one, its completion names it, give_back() returns it.
// Memory is mapped lazily: pages are touched only when a receive fills them.
class BufferRing {
 public:
  // Throws std::system_error when the kernel refuses (Linux < 5.19).
  BufferRing(Ring& ring, unsigned count, unsigned size, std::uint16_t group);
  ~BufferRing();
  BufferRing(const BufferRing&) = delete;
  BufferRing& operator=(const BufferRing&) = delete;

  const char* data(std::uint16_t id) const { return data_ + std::size_t{id} * size_; }
  void give_back(std::uint16_t id);
  std::uint16_t group() const { return group_; }

 private:
  io_uring* ring_;
  io_uring_buf_ring* br_ = nullptr;
  char* data_ = nullptr;
  unsigned count_, size_;
  std::uint16_t group_;
};

}  // namespace ringloop
