#include "core.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <system_error>

#include "transport.hpp"

namespace ringloop {
namespace {

constexpr unsigned kIn = POLLIN | POLLPRI;
constexpr unsigned kOut = POLLOUT;
constexpr unsigned kErr = POLLERR | POLLHUP | POLLNVAL;
// asyncio's cap on one wait (base_events.MAXIMUM_SELECT_TIMEOUT): 24 hours.
constexpr double kMaxWait = 24 * 3600.0;

HandleObject* as_handle(PyObject* o) {
  return reinterpret_cast<HandleObject*>(o);
}

// A later timer compares greater: std heap functions then keep the earliest on top.
struct Later {
  template <class T>
  bool operator()(const T& a, const T& b) const {
    return a.when > b.when || (a.when == b.when && a.seq > b.seq);
  }
};

void cancel_handle(PyObject* o) {
  if (o != nullptr) as_handle(o)->cancelled = true;
}

// Multishot receives (IORING_RECV_MULTISHOT) arrived in Linux 6.0; an older kernel would fail
// every connection's first receive, so the loop refuses to start there instead.
bool kernel_has_multishot_recv() {
  utsname u{};
  if (::uname(&u) != 0) return true;  // unknown: let the ring decide
  int major = 0;
  if (std::sscanf(u.release, "%d.", &major) != 1) return true;
  return major >= 6;
}

}  // namespace

unsigned Watch::wanted() const {
  return (reader ? kIn : 0U) | (writer ? kOut : 0U);
}

Core::Core() {
  if (!kernel_has_multishot_recv()) {
    throw std::system_error(ENOSYS, std::generic_category(),
                            "ringloop needs Linux >= 6.0 (io_uring multishot receive)");
  }
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
  arm_wake();
}

Core::~Core() {
  tearing_down_ = true;
  clear();
  for (PyObject* t : to_flush_) Py_DECREF(t);
  to_flush_.clear();
  // Receives write into the provided buffers and sends read transports' bytes: every such
  // request is cancelled and its completion awaited before either is released. (Completions
  // only drop the references their requests held; no protocol is called.)
  if (transport_ops_ > 0) {
    ring_.cancel_all();
    for (int round = 0; transport_ops_ > 0 && round < 1000; ++round) {
      (void)ring_.submit_and_wait(10'000'000);
      ring_.drain([this](const io_uring_cqe& cqe) {
        completions_.push_back(
            Completion{static_cast<Op*>(io_uring_cqe_get_data(&cqe)), cqe.res, cqe.flags});
      });
      (void)run_completions();
    }
  }
  // The ring is torn down with this object, after which no request refers to an Op.
  for (Op* op : ops_) delete op;
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void Core::cancel(Op* op) {
  io_uring_sqe* s = ring_.sqe();
  io_uring_prep_cancel(s, op, 0);
  io_uring_sqe_set_data(s, nullptr);  // the cancellation's own completion carries no Op
}

void Core::arm_wake() {
  wake_op_ = new Op{Op::Kind::Wake, wake_fd_};
  ops_.insert(wake_op_);
  // A poll, not a read: no request in flight ever writes into this process's memory, so
  // tearing the ring down in any order is safe.
  io_uring_sqe* s = ring_.sqe();
  io_uring_prep_poll_add(s, wake_fd_, POLLIN);
  io_uring_sqe_set_data(s, wake_op_);
}

void Core::wake() const {
  const eventfd_t one = 1;
  // Fails only if the counter would overflow, when a wake-up is pending anyway.
  (void)::eventfd_write(wake_fd_, one);
}

void Core::push_timer(PyObject* handle) {
  Py_INCREF(handle);
  HandleObject* h = as_handle(handle);
  h->scheduled = true;
  timers_.push_back(Timer{h->when, seq_++, handle});
  std::push_heap(timers_.begin(), timers_.end(), Later{});
}

void Core::drop_cancelled_timers() {
  // As asyncio does: rebuild the heap when most of it is cancelled timers.
  if (timers_.size() > 100 && cancelled_timers_ * 2 > timers_.size()) {
    std::vector<PyObject*> dropped;
    auto keep = std::remove_if(timers_.begin(), timers_.end(), [&](const Timer& t) {
      if (!as_handle(t.handle)->cancelled) return false;
      dropped.push_back(t.handle);
      return true;
    });
    timers_.erase(keep, timers_.end());
    std::make_heap(timers_.begin(), timers_.end(), Later{});
    cancelled_timers_ = 0;
    for (PyObject* h : dropped) {
      as_handle(h)->scheduled = false;
      Py_DECREF(h);
    }
    return;
  }
  while (!timers_.empty() && as_handle(timers_.front().handle)->cancelled) {
    std::pop_heap(timers_.begin(), timers_.end(), Later{});
    PyObject* h = timers_.back().handle;
    timers_.pop_back();
    --cancelled_timers_;
    as_handle(h)->scheduled = false;
    Py_DECREF(h);
  }
}

void Core::watch(int fd, unsigned events, PyObject* handle) {
  Watch& w = watches_[fd];
  Ref& slot = (events & kIn) ? w.reader : w.writer;
  cancel_handle(slot.get());
  // The replaced handle is released last: its destructor may run Python code that watches
  // another fd and rehashes watches_ under `w`.
  Ref replaced = std::move(slot);
  slot = Ref::borrow(handle);
  if (w.armed != nullptr && (w.armed->mask & w.wanted()) != w.wanted()) {
    retire(w.armed);  // watching too little: a new poll with the wider mask replaces it
    w.armed = nullptr;
  }
  if (w.armed == nullptr && !w.queued) {
    w.queued = true;
    to_arm_.push_back(fd);
  }
}

bool Core::unwatch(int fd, unsigned events) {
  auto it = watches_.find(fd);
  if (it == watches_.end()) return false;
  Watch& w = it->second;
  Ref& slot = (events & kIn) ? w.reader : w.writer;
  if (!slot) return false;
  cancel_handle(slot.get());
  Ref gone = std::move(slot);
  if (w.wanted() == 0) {
    // Nothing left on this fd: the poll in flight is cancelled now, so a caller may close the
    // fd and a new one with its number starts clean.
    if (w.armed != nullptr) retire(w.armed);
    watches_.erase(it);
  }
  return true;
}

void Core::retire(Op* op) {
  op->stale = true;
  io_uring_sqe* s = ring_.sqe();
  io_uring_prep_poll_remove(s, reinterpret_cast<std::uint64_t>(op));
  io_uring_sqe_set_data(s, nullptr);  // the removal's own completion carries no Op
}

void Core::arm(int fd, Watch& w) {
  const unsigned mask = w.wanted();
  Op* op = new Op{Op::Kind::Poll, fd, mask};
  ops_.insert(op);
  io_uring_sqe* s = ring_.sqe();
  io_uring_prep_poll_add(s, fd, mask);  // one-shot: re-armed after each event (level-triggered)
  io_uring_sqe_set_data(s, op);
  w.armed = op;
}

int Core::complete(const Completion& cqe) {
  Op* op = cqe.op;
  if (op == nullptr) return 0;  // a removal's or cancellation's own completion
  if (op->kind == Op::Kind::Recv) return on_recv(*this, *op->conn, cqe.res, cqe.flags);
  if (op->kind == Op::Kind::Send) return on_send(*this, *op->conn, cqe.res);
  ops_.erase(op);
  std::unique_ptr<Op> owned(op);
  if (tearing_down_) return 0;
  if (op->kind == Op::Kind::Wake) {
    eventfd_t count;
    (void)::eventfd_read(wake_fd_, &count);  // reset; the woken loop just runs its ready queue
    arm_wake();
    return 0;
  }
  if (op->stale) return 0;
  auto it = watches_.find(op->fd);
  if (it == watches_.end() || it->second.armed != op) return 0;
  Watch& w = it->second;
  w.armed = nullptr;
  // A failed poll (-EBADF: the fd was closed under its watch) wakes both sides, whose
  // callbacks then see the error, as with epoll's EPOLLERR.
  const unsigned got = cqe.res < 0 ? kErr | kIn | kOut : static_cast<unsigned>(cqe.res);
  if ((got & (kIn | kErr)) && w.reader && !as_handle(w.reader.get())->cancelled) {
    push_ready(w.reader.get());
  }
  if ((got & (kOut | kErr)) && w.writer && !as_handle(w.writer.get())->cancelled) {
    push_ready(w.writer.get());
  }
  if (cqe.res < 0 && cqe.res != -ECANCELED) return 0;  // not re-armed on a broken fd
  if (!w.queued) {
    w.queued = true;
    to_arm_.push_back(op->fd);
  }
  return 0;
}

int Core::run_completions() {
  // Protocol callbacks run here; one that raises SystemExit or KeyboardInterrupt leaves the
  // rest for the next iteration.
  while (next_completion_ < completions_.size()) {
    const Completion c = completions_[next_completion_++];
    if (complete(c) < 0) return -1;
  }
  completions_.clear();
  next_completion_ = 0;
  return 0;
}

void Core::flush_writes() {
  // Swapped with a spare vector that keeps its capacity: no allocation per iteration. A
  // transport's destructor (the last DECREF) may queue writes again, into to_flush_.
  flushing_.swap(to_flush_);
  for (PyObject* t : flushing_) flush(*this, t);
  for (PyObject* t : flushing_) Py_DECREF(t);
  flushing_.clear();
}

int Core::poll(bool stopping, double now_plus_resolution, double now) {
  for (int fd : to_arm_) {
    auto it = watches_.find(fd);
    if (it == watches_.end()) continue;
    it->second.queued = false;
    if (it->second.armed == nullptr && it->second.wanted() != 0) arm(fd, it->second);
  }
  to_arm_.clear();
  flush_writes();
  drop_cancelled_timers();
  std::int64_t timeout_ns = -1;
  if (!ready_.empty() || stopping || next_completion_ < completions_.size()) {
    timeout_ns = 0;
  } else if (!timers_.empty()) {
    const double wait = std::clamp(timers_.front().when - now, 0.0, kMaxWait);
    timeout_ns = static_cast<std::int64_t>(std::ceil(wait * 1e9));
  }
  int r;
  if (timeout_ns == 0) {
    r = ring_.submit_and_wait(0);
  } else {
    Py_BEGIN_ALLOW_THREADS r = ring_.submit_and_wait(timeout_ns);
    Py_END_ALLOW_THREADS
  }
  if (r == -EINTR) {
    if (PyErr_CheckSignals() < 0) return -1;
  } else if (r < 0) {
    errno = -r;
    PyErr_SetFromErrno(PyExc_OSError);
    return -1;
  }
  ring_.drain([this](const io_uring_cqe& cqe) {
    completions_.push_back(
        Completion{static_cast<Op*>(io_uring_cqe_get_data(&cqe)), cqe.res, cqe.flags});
  });
  if (run_completions() < 0) return -1;
  while (!timers_.empty()) {
    PyObject* h = timers_.front().handle;
    if (!as_handle(h)->cancelled && timers_.front().when > now_plus_resolution) break;
    std::pop_heap(timers_.begin(), timers_.end(), Later{});
    timers_.pop_back();
    as_handle(h)->scheduled = false;
    if (as_handle(h)->cancelled) {
      --cancelled_timers_;
      Py_DECREF(h);
    } else {
      ready_.push_back(h);  // the heap's reference moves to the ready queue
    }
  }
  return 0;
}

int Core::run_ready(PyObject* loop) {
  (void)loop;
  for (std::size_t n = ready_.size(); n > 0 && !ready_.empty(); --n) {
    PyObject* h = ready_.front();
    ready_.pop_front();
    int r = 0;
    if (!as_handle(h)->cancelled) r = run_handle(as_handle(h));
    Py_DECREF(h);
    if (r < 0) return -1;
  }
  return 0;
}

void Core::clear() {
  // Handles are released only once the containers are consistent: a destructor may run
  // Python code that reaches this loop again.
  std::deque<PyObject*> ready;
  ready.swap(ready_);
  std::vector<Timer> timers;
  timers.swap(timers_);
  cancelled_timers_ = 0;
  std::unordered_map<int, Watch> watches;
  watches.swap(watches_);
  for (auto& [fd, w] : watches) {
    if (w.armed != nullptr) retire(w.armed);
    cancel_handle(w.reader.get());
    cancel_handle(w.writer.get());
  }
  to_arm_.clear();
  for (PyObject* h : ready) Py_DECREF(h);
  for (const Timer& t : timers) {
    as_handle(t.handle)->scheduled = false;
    Py_DECREF(t.handle);
  }
}

int Core::traverse(visitproc visit, void* arg) const {
  for (PyObject* h : ready_) Py_VISIT(h);
  for (const Timer& t : timers_) Py_VISIT(t.handle);
  for (const auto& [fd, w] : watches_) {
    Py_VISIT(w.reader.get());
    Py_VISIT(w.writer.get());
  }
  return 0;
}

}  // namespace ringloop
