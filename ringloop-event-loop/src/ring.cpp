#include "ring.hpp"

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

}  // namespace ringloop
