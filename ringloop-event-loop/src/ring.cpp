#include "ring.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <ctime>
#include <string>
#include <system_error>

namespace ringloop {

Ring::Ring(unsigned entries) {
  io_uring_params p{};
  // Completion work runs when the loop enters the kernel anyway (no inter-processor interrupt
  // per completion); the flag lets liburing see that work is pending.
  p.flags = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
  int r = io_uring_queue_init_params(entries, &ring_, &p);
  if (r == -EINVAL) {  // a kernel before 5.19: plain ring
    p = io_uring_params{};
    r = io_uring_queue_init_params(entries, &ring_, &p);
  }
  if (r < 0) {
    throw std::system_error(-r, std::generic_category(),
                            "io_uring_setup (ringloop needs io_uring: Linux >= 5.19, not"
                            " disabled by sysctl kernel.io_uring_disabled or seccomp)");
  }
}

Ring::~Ring() {
  io_uring_queue_exit(&ring_);
}

io_uring_sqe* Ring::sqe() {
  io_uring_sqe* s = io_uring_get_sqe(&ring_);
  while (s == nullptr) {
    io_uring_submit(&ring_);
    s = io_uring_get_sqe(&ring_);
  }
  return s;
}

int Ring::submit_and_wait(std::int64_t timeout_ns) {
  if (timeout_ns == 0) {
    const int r = io_uring_submit(&ring_);
    if (r < 0 && r != -EBUSY && r != -EAGAIN) return r;
    // Completion work the kernel deferred to this task (COOP_TASKRUN) runs on the next entry
    // into the kernel; TASKRUN_FLAG says whether there is any, so an idle check costs nothing.
    if (IO_URING_READ_ONCE(*ring_.sq.kflags) & IORING_SQ_TASKRUN) io_uring_get_events(&ring_);
    return 0;
  }
  io_uring_cqe* cqe = nullptr;
  int r;
  if (timeout_ns < 0) {
    r = io_uring_submit_and_wait(&ring_, 1);
  } else {
    __kernel_timespec ts{};
    ts.tv_sec = timeout_ns / 1'000'000'000;
    ts.tv_nsec = timeout_ns % 1'000'000'000;
    r = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
  }
  if (r == -ETIME || r == -EBUSY || r == -EAGAIN) return 0;
  return r < 0 ? r : 0;
}

void Ring::cancel_all() {
  io_uring_sqe* s = sqe();
  io_uring_prep_cancel(s, nullptr, IORING_ASYNC_CANCEL_ANY);
  io_uring_sqe_set_data(s, nullptr);
}

BufferRing::BufferRing(Ring& ring, unsigned count, unsigned size, std::uint16_t group)
    : ring_(ring.get()), count_(count), size_(size), group_(group) {
  const std::size_t ring_bytes = count * sizeof(io_uring_buf);
  const std::size_t data_bytes = std::size_t{count} * size;
  void* mem = ::mmap(nullptr, ring_bytes + data_bytes, PROT_READ | PROT_WRITE,
                     MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (mem == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "mmap");
  br_ = static_cast<io_uring_buf_ring*>(mem);
  data_ = static_cast<char*>(mem) + ring_bytes;
  io_uring_buf_ring_init(br_);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<std::uint64_t>(br_);
  reg.ring_entries = count;
  reg.bgid = group;
  if (const int r = io_uring_register_buf_ring(ring_, &reg, 0); r < 0) {
    ::munmap(mem, ring_bytes + data_bytes);
    throw std::system_error(-r, std::generic_category(),
                            "io_uring_register_buf_ring (provided buffers need Linux >= 5.19)");
  }
  for (unsigned i = 0; i < count; ++i) {
    io_uring_buf_ring_add(br_, data_ + std::size_t{i} * size, size, static_cast<std::uint16_t>(i),
                          io_uring_buf_ring_mask(count), static_cast<int>(i));
  }
  io_uring_buf_ring_advance(br_, static_cast<int>(count));
}

BufferRing::~BufferRing() {
  (void)io_uring_unregister_buf_ring(ring_, group_);
  ::munmap(br_, count_ * sizeof(io_uring_buf) + std::size_t{count_} * size_);
}

void BufferRing::give_back(std::uint16_t id) {
  io_uring_buf_ring_add(br_, data_ + std::size_t{id} * size_, size_, id,
                        io_uring_buf_ring_mask(count_), 0);
  io_uring_buf_ring_advance(br_, 1);
}

}  // namespace ringloop
