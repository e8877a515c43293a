#include "loadgen.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <liburing.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include "http.hpp"
#include "net.hpp"

namespace echo {
namespace {

constexpr std::size_t kShifts = 251;  // prime: payload k is pattern[k % 251 ...]
constexpr std::size_t kReadBuf = 256 * 1024;

// The shared payload pattern: size + kShifts bytes of a fixed pseudo-random sequence.
std::vector<unsigned char> make_pattern(std::size_t size) {
  std::vector<unsigned char> p(size + kShifts);
  std::uint32_t x = 2463534242u;
  for (auto& b : p) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    b = static_cast<unsigned char>(x >> 24);
  }
  return p;
}

double cpu_seconds(const timeval& tv) {
  return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

struct CpuSample {
  double user = 0, sys = 0;
  static CpuSample take() {
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    return {cpu_seconds(ru.ru_utime), cpu_seconds(ru.ru_stime)};
  }
};

// Shared between the worker threads: the first error stops everyone.
class ErrorSlot {
 public:
  void set(LoadError::Kind kind, std::string msg) {
    std::lock_guard lock(mu_);
    if (!error_) error_.emplace(kind, std::move(msg));
    failed_.store(true, std::memory_order_relaxed);
  }
  [[nodiscard]] bool failed() const { return failed_.load(std::memory_order_relaxed); }
  void rethrow() const {
    std::lock_guard lock(mu_);
    if (error_) throw *error_;
  }

 private:
  mutable std::mutex mu_;
  std::optional<LoadError> error_;
  std::atomic<bool> failed_{false};
};

// CPU time and run-queue wait of the calling thread.
struct ThreadClock {
  double cpu_s = 0;
  double runq_s = -1;  // -1: schedstat unreadable
  static ThreadClock take() {
    ThreadClock c;
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    c.cpu_s = static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
    // schedstat: ns on CPU, ns waiting on a run queue, time slices.
    char path[64];
    std::snprintf(path, sizeof path, "/proc/self/task/%d/schedstat", static_cast<int>(::gettid()));
    const Fd fd(::open(path, O_RDONLY | O_CLOEXEC));
    std::array<char, 128> buf{};
    if (fd.valid()) {
      const ssize_t n = ::read(fd.get(), buf.data(), buf.size() - 1);
      unsigned long long on_cpu = 0, waited = 0;
      if (n > 0 && std::sscanf(buf.data(), "%llu %llu", &on_cpu, &waited) == 2) {
        c.runq_s = static_cast<double>(waited) / 1e9;
      }
    }
    return c;
  }
};

struct Conn {
  Fd fd;
  int id = 0;
  std::uint32_t index = 0;           // position in its worker (io_uring: tag, registered file)
  std::uint64_t issued = 0;          // requests handed to the send side
  std::uint64_t completed = 0;       // responses fully received and verified
  std::uint64_t sent = 0;            // stream bytes written (confirmed by the kernel)
  std::uint64_t sending = 0;         // stream bytes handed to the kernel, not yet confirmed
  std::uint64_t received = 0;        // stream bytes read (and, echo, verified)
  std::int64_t phase_ns = 0;         // open loop: offset of this connection's schedule
  std::int64_t busy_since = 0;       // last completion, or when work arrived on an idle conn
  std::vector<std::int64_t> stamps;  // closed loop: issue time of request k at k % depth
  std::optional<http::ResponseReader> http;
  bool want_out = false;  // epoll: EPOLLOUT registered
};

// What every worker shares, read-only.
struct Plan {
  const LoadConfig& cfg;
  const std::vector<unsigned char>& pattern;  // echo: payload windows; http: the body
  const std::string& request;                 // http: the request every connection repeats
  std::int64_t t0, from, to;
};

// One worker thread's engine: issues requests, verifies responses, keeps the clocks, the
// window, the stall checks. Backends (below) only move bytes: they implement open(), push()
// and wait(), and hand what they read to received().
class Worker {
 public:
  Worker(const Plan& plan, ErrorSlot& errors)
      : cfg_(plan.cfg),
        pattern_(plan.pattern),
        request_(plan.request),
        errors_(errors),
        t0_(plan.t0),
        from_(plan.from),
        to_(plan.to),
        interval_ns_(cfg_.rate > 0 ? 1e9 * cfg_.connections / cfg_.rate : 0.0),
        stall_ns_(static_cast<std::int64_t>(cfg_.stall_timeout_s * 1e9)),
        check_every_ns_(std::clamp<std::int64_t>(stall_ns_ / 10, 1'000'000, 100'000'000)),
        unit_(cfg_.protocol == Protocol::Http ? request_.size() : cfg_.size) {}
  virtual ~Worker() = default;
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void add(Conn conn) {
    if (cfg_.protocol == Protocol::Http) conn.http.emplace(pattern_.data(), cfg_.size);
    conn.index = static_cast<std::uint32_t>(conns_.size());
    conns_.push_back(std::make_unique<Conn>(std::move(conn)));
  }

  void run() noexcept {
    try {
      loop();
    } catch (const LoadError& e) {
      errors_.set(e.kind(), e.what());
    } catch (const std::exception& e) {
      errors_.set(LoadError::Kind::Io, e.what());
    }
    close();
  }

  ThreadStats stats;
  std::uint64_t bytes = 0, unfinished = 0;
  Histogram latency;
  Histogram gaps;  // ns: for each completion, the time since the previous progress

 protected:
  // The backend's part, all called on the worker thread.
  // Sets up the multiplexer and starts receiving on every connection.
  virtual void open() = 0;
  // c has issued bytes not yet handed to the kernel (c.sent + c.sending < stream end).
  virtual void push(Conn& c) = 0;
  // Waits up to wait_ns for I/O and handles what is ready (received(), push()).
  virtual void wait(std::int64_t wait_ns) = 0;
  // Releases the multiplexer (the connections stay open until the worker is destroyed).
  virtual void close() noexcept {}

  // n bytes arrived on c: verifies them, completes requests, issues (closed loop) and pushes
  // new ones. Throws LoadError.
  void received(Conn& c, const unsigned char* p, std::size_t n, std::int64_t now) {
    const bool issued = http() ? consume_http(c, p, n, now) : consume_echo(c, p, n, now);
    if (issued) push(c);
  }

  // The peer closed c (read returned 0).
  [[noreturn]] static void closed(const Conn& c) {
    throw LoadError(LoadError::Kind::Closed,
                    "the server closed connection " + std::to_string(c.id) + " after " +
                        std::to_string(c.completed) + " of " + std::to_string(c.issued) +
                        " responses, " + std::to_string(c.received) + " of " +
                        std::to_string(c.sent) + " bytes (did the server die?)");
  }

  // Fills iov with the stream bytes issued and not yet handed to the kernel (from
  // c.sent + c.sending on); returns how many entries it used (0: nothing to send).
  template <std::size_t N>
  std::size_t unsent(const Conn& c, std::array<iovec, N>& iov) const {
    std::size_t n_iov = 0;
    std::uint64_t pos = c.sent + c.sending;
    const std::uint64_t end = c.issued * unit_;
    while (n_iov < N && pos < end) {
      const std::uint64_t k = pos / unit_, off = pos % unit_;
      const auto len = static_cast<std::size_t>(unit_ - off);
      iov[n_iov].iov_base = const_cast<unsigned char*>(unit_data(k) + off);
      iov[n_iov].iov_len = len;
      ++n_iov;
      pos += len;
    }
    return n_iov;
  }

  [[noreturn]] static void io_error(const Conn& c, int err, const char* op) {
    const std::string where = "connection " + std::to_string(c.id);
    if (err == ECONNRESET || err == EPIPE) {
      throw LoadError(LoadError::Kind::Reset,
                      sys_error(where + ": " + op +
                                    " failed, the server reset the connection "
                                    "after " +
                                    std::to_string(c.received) + " bytes",
                                err));
    }
    throw LoadError(LoadError::Kind::Io, sys_error(where + ": " + op, err));
  }

  [[nodiscard]] std::vector<std::unique_ptr<Conn>>& conns() { return conns_; }
  [[nodiscard]] std::uint64_t unit() const { return unit_; }  // bytes per request on the wire

 private:
  [[nodiscard]] bool open_loop() const { return cfg_.rate > 0; }
  [[nodiscard]] bool counted() const { return cfg_.requests > 0; }
  [[nodiscard]] bool http() const { return cfg_.protocol == Protocol::Http; }
  [[nodiscard]] bool in_window(std::int64_t t) const { return t >= from_ && t < to_; }

  [[nodiscard]] std::int64_t due(const Conn& c, std::uint64_t k) const {
    return t0_ + c.phase_ns +
           static_cast<std::int64_t>(std::llround(interval_ns_ * static_cast<double>(k)));
  }
  [[nodiscard]] bool may_issue(const Conn& c) const {
    return !counted() || c.issued < cfg_.requests;
  }
  [[nodiscard]] const unsigned char* unit_data(std::uint64_t k) const {
    return http() ? reinterpret_cast<const unsigned char*>(request_.data())
                  : pattern_.data() + (k % kShifts);
  }

  void loop() {
    stats.connections = static_cast<int>(conns_.size());
    open();
    std::int64_t now = now_ns();
    begin_window(now);
    if (!open_loop()) {
      for (auto& c : conns_) {
        c->stamps.assign(static_cast<std::size_t>(cfg_.depth), 0);
        for (int i = 0; i < cfg_.depth && may_issue(*c); ++i) issue(*c, now);
        push(*c);
      }
    }
    std::int64_t next_check = now + check_every_ns_;
    for (;;) {
      now = now_ns();
      if (errors_.failed()) return;
      begin_window(now);
      if (counted() ? all_done() : now >= to_) break;
      if (now >= next_check) {
        check_stalls(now);
        next_check = now + check_every_ns_;
      }
      std::int64_t wake = counted() ? next_check : std::min(next_check, to_);
      if (!window_begun_) wake = std::min(wake, from_);
      if (open_loop()) wake = std::min(wake, issue_due(now));
      wait(std::max<std::int64_t>(0, wake - now));
    }
    end_window(counted() ? now : to_);
  }

  // Samples this thread's clocks once, as it crosses the start of the measured window.
  void begin_window(std::int64_t now) {
    if (window_begun_ || now < from_) return;
    window_begun_ = true;
    clock0_ = ThreadClock::take();
  }

  void end_window(std::int64_t end) {
    const ThreadClock clock1 = ThreadClock::take();
    stats.cpu_s = clock1.cpu_s - clock0_.cpu_s;
    if (clock0_.runq_s >= 0 && clock1.runq_s >= 0) {
      stats.runqueue_wait_s = clock1.runq_s - clock0_.runq_s;
    }
    if (outstanding_ > 0) record_gap(end);  // the trailing gap is a gap too
    if (open_loop() && !counted()) {
      // Every request due before the window closed and not answered: a timeout, entered
      // at its age.
      for (auto& c : conns_) {
        for (std::uint64_t k = c->completed; due(*c, k) < end; ++k) {
          latency.record(end - due(*c, k));
          ++unfinished;
        }
      }
    }
  }

  void record_gap(std::int64_t now) {
    const std::int64_t gap = now - std::max(progress_ns_, from_);
    gaps.record(gap);
    stats.max_gap_ns = std::max(stats.max_gap_ns, gap);
    progress_ns_ = now;
  }

  [[nodiscard]] bool all_done() const {
    return std::all_of(conns_.begin(), conns_.end(),
                       [&](const auto& c) { return c->completed >= cfg_.requests; });
  }

  // A connection with requests outstanding and nothing completed for stall_timeout fails the
  // run, naming it (and how many more are stuck).
  void check_stalls(std::int64_t now) {
    std::vector<const Conn*> stuck;
    for (const auto& c : conns_) {
      if (c->issued > c->completed && now - c->busy_since > stall_ns_) stuck.push_back(c.get());
    }
    if (stuck.empty()) return;
    const Conn& c = *stuck.front();
    std::ostringstream msg;
    msg.precision(3);
    msg << "no progress for " << cfg_.stall_timeout_s << " s (--stall-timeout) on connection"
        << (stuck.size() > 1 ? "s " : " ");
    for (std::size_t i = 0; i < stuck.size() && i < 8; ++i) msg << (i ? ", " : "") << stuck[i]->id;
    if (stuck.size() > 8) msg << " and " << stuck.size() - 8 << " more";
    msg << ": connection " << c.id << " has " << c.issued - c.completed
        << " request(s) outstanding after " << c.completed << " completed, " << c.received
        << " bytes received ("
        << (c.completed == 0 ? "never answered: not accepted yet (listen backlog full?), or "
                               "the server does not reply"
                             : "is the server stopped or stuck?")
        << ")";
    throw LoadError(LoadError::Kind::Stall, msg.str());
  }

  // Open loop: issue every request whose time has come; returns the next due time.
  std::int64_t issue_due(std::int64_t now) {
    std::int64_t next = INT64_MAX;
    for (auto& c : conns_) {
      bool any = false;
      while (may_issue(*c) && due(*c, c->issued) <= now) {
        issue(*c, now);
        any = true;
      }
      if (any) push(*c);
      if (may_issue(*c)) next = std::min(next, due(*c, c->issued));
    }
    return next;
  }

  void issue(Conn& c, std::int64_t now) {
    if (c.issued == c.completed) c.busy_since = now;
    if (outstanding_++ == 0) progress_ns_ = now;
    if (!open_loop()) c.stamps[c.issued % c.stamps.size()] = now;
    ++c.issued;
  }

  // Verifies echoed bytes; returns whether a new request was issued (closed loop).
  bool consume_echo(Conn& c, const unsigned char* p, std::size_t got, std::int64_t now) {
    const std::uint64_t size = cfg_.size;
    // Bytes still being sent may already have been echoed (io_uring reaps both at once).
    if (c.received + got > c.sent + c.sending) {
      throw LoadError(LoadError::Kind::Mismatch,
                      "connection " + std::to_string(c.id) + ": the server sent " +
                          std::to_string(c.received + got) + " bytes but was only sent " +
                          std::to_string(c.sent + c.sending) + " (not an echo server?)");
    }
    std::uint64_t done = 0;
    bool issued = false;
    while (done < got) {
      const std::uint64_t k = c.received / size, off = c.received % size;
      const std::uint64_t len = std::min<std::uint64_t>(size - off, got - done);
      const unsigned char* want = pattern_.data() + (k % kShifts) + off;
      if (std::memcmp(p + done, want, static_cast<std::size_t>(len)) != 0) {
        mismatch(c, k, off, p + done, want, len);
      }
      c.received += len;
      done += len;
      if (off + len == size) issued |= complete(c, k, now);
    }
    return issued;
  }

  bool consume_http(Conn& c, const unsigned char* p, std::size_t got, std::int64_t now) {
    std::uint64_t n = 0;
    try {
      n = c.http->feed(p, got);
    } catch (const http::Error& e) {
      throw LoadError(e.wrong_body() ? LoadError::Kind::Mismatch : LoadError::Kind::Protocol,
                      "connection " + std::to_string(c.id) + ", response " +
                          std::to_string(c.completed) + ": " + e.what());
    }
    c.received += got;
    if (c.completed + n > c.issued || (c.completed + n == c.issued && !c.http->idle())) {
      throw LoadError(LoadError::Kind::Protocol,
                      "connection " + std::to_string(c.id) + ": the server sent more responses (" +
                          std::to_string(c.completed + n) + "+) than requests (" +
                          std::to_string(c.issued) + ")");
    }
    bool issued = false;
    for (std::uint64_t i = 0; i < n; ++i) issued |= complete(c, c.completed, now);
    return issued;
  }

  // Request k of c is answered; returns whether a new one was issued (closed loop).
  bool complete(Conn& c, std::uint64_t k, std::int64_t now) {
    ++c.completed;
    --outstanding_;
    c.busy_since = now;
    const std::int64_t start = open_loop() ? due(c, k) : c.stamps[k % c.stamps.size()];
    if (counted() || in_window(now)) {
      ++stats.requests;
      bytes += cfg_.size;
      latency.record(now - start);
      record_gap(now);
    } else {
      progress_ns_ = now;
    }
    if (open_loop() || !may_issue(c)) return false;
    issue(c, now);
    return true;
  }

  [[noreturn]] static void mismatch(const Conn& c, std::uint64_t k, std::uint64_t off,
                                    const unsigned char* got, const unsigned char* want,
                                    std::uint64_t len) {
    std::uint64_t i = 0;
    while (i < len && got[i] == want[i]) ++i;
    std::ostringstream msg;
    msg << "echo mismatch on connection " << c.id << ": request " << k << ", byte " << off + i
        << " is 0x" << std::hex << int{got[i]} << ", expected 0x" << int{want[i]};
    throw LoadError(LoadError::Kind::Mismatch, msg.str());
  }

  const LoadConfig& cfg_;
  const std::vector<unsigned char>& pattern_;
  const std::string& request_;
  ErrorSlot& errors_;
  std::int64_t t0_, from_, to_;
  double interval_ns_;
  std::int64_t stall_ns_, check_every_ns_;
  std::uint64_t unit_;  // bytes per request on the wire
  std::vector<std::unique_ptr<Conn>> conns_;
  std::uint64_t outstanding_ = 0;  // requests issued and not completed, all connections
  std::int64_t progress_ns_ = 0;   // last completion, or when work arrived on an idle thread
  bool window_begun_ = false;
  ThreadClock clock0_;
};

// epoll: one wake-up serves every ready socket (up to 1024); read() until the socket is
// drained, writev() what was issued, EPOLLOUT only while a connection has bytes the socket
// did not take.
class EpollWorker final : public Worker {
 public:
  using Worker::Worker;

 private:
  void open() override {
    ep_.reset(::epoll_create1(EPOLL_CLOEXEC));
    if (!ep_.valid()) throw_sys("epoll_create1");
    for (auto& c : conns()) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.ptr = c.get();
      if (::epoll_ctl(ep_.get(), EPOLL_CTL_ADD, c->fd.get(), &ev) < 0) throw_sys("epoll_ctl");
    }
    events_.resize(std::clamp<std::size_t>(conns().size(), 16, 1024));
  }

  void wait(std::int64_t wait_ns) override {
    timespec ts{wait_ns / 1'000'000'000, wait_ns % 1'000'000'000};
    const int n =
        ::epoll_pwait2(ep_.get(), events_.data(), static_cast<int>(events_.size()), &ts, nullptr);
    if (n < 0) {
      if (errno == EINTR) return;
      throw_sys("epoll_pwait2");
    }
    for (int i = 0; i < n; ++i) {
      auto& c = *static_cast<Conn*>(events_[static_cast<std::size_t>(i)].data.ptr);
      const auto ev = events_[static_cast<std::size_t>(i)].events;
      if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(c);
      if (ev & EPOLLOUT) push(c);
    }
  }

  // Writes as much of the issued-but-unsent stream as the socket takes.
  void push(Conn& c) override {
    for (;;) {
      std::array<iovec, 16> iov{};
      const std::size_t n_iov = unsent(c, iov);
      if (n_iov == 0) break;
      const ssize_t w = ::writev(c.fd.get(), iov.data(), static_cast<int>(n_iov));
      if (w < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) break;
        io_error(c, errno, "write");
      }
      c.sent += static_cast<std::uint64_t>(w);
    }
    const bool want = c.sent < c.issued * unit();
    if (want != c.want_out) {
      epoll_event ev{};
      ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
      ev.data.ptr = &c;
      if (::epoll_ctl(ep_.get(), EPOLL_CTL_MOD, c.fd.get(), &ev) < 0) throw_sys("epoll_ctl");
      c.want_out = want;
    }
  }

  void on_readable(Conn& c) {
    for (;;) {
      const ssize_t r = ::read(c.fd.get(), buf_.get(), kReadBuf);
      if (r < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) return;
        io_error(c, errno, "read");
      }
      if (r == 0) closed(c);
      const auto got = static_cast<std::size_t>(r);
      received(c, buf_.get(), got, now_ns());
      if (got < kReadBuf) return;
    }
  }

  void close() noexcept override { ep_.reset(); }

  Fd ep_;
  std::vector<epoll_event> events_;
  std::unique_ptr<unsigned char[]> buf_{new unsigned char[kReadBuf]};
};

// io_uring: one ring per thread. Every connection keeps a multishot recv armed on a ring of
// provided buffers (re-armed only when the kernel ends it) and at most one send in flight
// (its completion pushes whatever was issued meanwhile). wait() is a single
// io_uring_submit_and_wait: it submits every send queued since the last call and returns
// with all completions ready, which are handled in one pass.
class UringWorker final : public Worker {
 public:
  using Worker::Worker;
  ~UringWorker() override { close(); }
  UringWorker(const UringWorker&) = delete;
  UringWorker& operator=(const UringWorker&) = delete;

 private:
  static constexpr unsigned kBufCount = 256;          // provided buffers (a power of two)
  static constexpr std::size_t kBufSize = 32 * 1024;  // bytes each
  static constexpr int kGroup = 0;                    // the buffer group id
  // user_data: connection index << 1 | kind.
  static constexpr std::uint64_t kRecv = 0, kSend = 1;

  struct SendSlot {  // a send in flight: what its SQE points at
    std::array<iovec, 16> iov{};
    msghdr msg{};
  };

  void open() override {
    const std::size_t n = conns().size();
    unsigned entries = 64;
    while (entries < 2 * n && entries < 4096) entries *= 2;
    // Fewest wake-ups and no cross-thread task work: completions run when this thread
    // waits (DEFER_TASKRUN, 6.1+); older kernels reject the flags, so fall back step by step.
    const unsigned tries[] = {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
                              IORING_SETUP_COOP_TASKRUN, 0};
    int rc = -EINVAL;
    for (const unsigned flags : tries) {
      io_uring_params p{};
      p.flags = flags | IORING_SETUP_CQSIZE;
      p.cq_entries = entries * 4;
      rc = ::io_uring_queue_init_params(entries, &ring_, &p);
      if (rc != -EINVAL) break;
    }
    if (rc < 0) {
      throw LoadError(
          LoadError::Kind::Io,
          sys_error("io_uring_queue_init (io_uring disabled or too old? use --io epoll)", -rc));
    }
    ring_ok_ = true;
    (void)::io_uring_register_ring_fd(&ring_);  // saves an fd lookup per io_uring_enter; optional
    std::vector<int> fds;
    fds.reserve(n);
    for (const auto& c : conns()) fds.push_back(c->fd.get());
    fixed_ = ::io_uring_register_files(&ring_, fds.data(), static_cast<unsigned>(n)) == 0;
    setup_buffers();
    for (auto& c : conns()) arm_recv(*c);
    slots_.resize(n);
  }

  void setup_buffers() {
    const std::size_t ring_bytes = kBufCount * sizeof(io_uring_buf);
    void* mem =
        ::mmap(nullptr, ring_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (mem == MAP_FAILED) throw_sys("mmap (io_uring buffer ring)");
    br_ = static_cast<io_uring_buf_ring*>(mem);
    ::io_uring_buf_ring_init(br_);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<std::uint64_t>(mem);
    reg.ring_entries = kBufCount;
    reg.bgid = kGroup;
    if (const int rc = ::io_uring_register_buf_ring(&ring_, &reg, 0); rc < 0) {
      throw LoadError(
          LoadError::Kind::Io,
          sys_error("io_uring_register_buf_ring (needs Linux 5.19+; use --io epoll)", -rc));
    }
    bufs_.reset(new unsigned char[kBufCount * kBufSize]);
    for (unsigned i = 0; i < kBufCount; ++i) give_back(static_cast<std::uint16_t>(i));
    flush_buffers();
  }

  void give_back(std::uint16_t bid) {
    ::io_uring_buf_ring_add(br_, bufs_.get() + std::size_t{bid} * kBufSize, kBufSize, bid,
                            ::io_uring_buf_ring_mask(kBufCount), returned_++);
  }
  void flush_buffers() {
    if (returned_ == 0) return;
    ::io_uring_buf_ring_advance(br_, returned_);
    returned_ = 0;
  }

  io_uring_sqe* sqe() {
    io_uring_sqe* s = ::io_uring_get_sqe(&ring_);
    if (s == nullptr) {  // the queue is full: hand it to the kernel now
      if (const int rc = ::io_uring_submit(&ring_); rc < 0) {
        throw LoadError(LoadError::Kind::Io, sys_error("io_uring_submit", -rc));
      }
      s = ::io_uring_get_sqe(&ring_);
      if (s == nullptr) throw LoadError(LoadError::Kind::Io, "io_uring submission queue full");
    }
    return s;
  }

  // The connection's descriptor as the SQE names it: its registered index, or the fd.
  void target(io_uring_sqe* s, const Conn& c) const {
    if (fixed_) {
      s->fd = static_cast<int>(c.index);
      s->flags |= IOSQE_FIXED_FILE;
    }
  }

  void arm_recv(Conn& c) {
    io_uring_sqe* s = sqe();
    ::io_uring_prep_recv_multishot(s, c.fd.get(), nullptr, 0, 0);
    target(s, c);
    s->flags |= IOSQE_BUFFER_SELECT;
    s->buf_group = kGroup;
    ::io_uring_sqe_set_data64(s, std::uint64_t{c.index} << 1 | kRecv);
  }

  void push(Conn& c) override {
    if (c.sending > 0) return;  // one send at a time; its completion pushes the rest
    SendSlot& slot = slots_[c.index];
    const std::size_t n_iov = unsent(c, slot.iov);
    if (n_iov == 0) return;
    std::uint64_t len = 0;
    for (std::size_t i = 0; i < n_iov; ++i) len += slot.iov[i].iov_len;
    io_uring_sqe* s = sqe();
    if (n_iov == 1) {
      ::io_uring_prep_send(s, c.fd.get(), slot.iov[0].iov_base, slot.iov[0].iov_len, MSG_NOSIGNAL);
    } else {
      slot.msg = {};
      slot.msg.msg_iov = slot.iov.data();
      slot.msg.msg_iovlen = n_iov;
      ::io_uring_prep_sendmsg(s, c.fd.get(), &slot.msg, MSG_NOSIGNAL);
    }
    target(s, c);
    ::io_uring_sqe_set_data64(s, std::uint64_t{c.index} << 1 | kSend);
    c.sending = len;
  }

  void wait(std::int64_t wait_ns) override {
    __kernel_timespec ts{wait_ns / 1'000'000'000, wait_ns % 1'000'000'000};
    io_uring_cqe* first = nullptr;
    const int rc = ::io_uring_submit_and_wait_timeout(&ring_, &first, 1, &ts, nullptr);
    if (rc < 0 && rc != -ETIME && rc != -EINTR) {
      throw LoadError(LoadError::Kind::Io, sys_error("io_uring_submit_and_wait", -rc));
    }
    const std::int64_t now = now_ns();
    unsigned head = 0, seen = 0;
    io_uring_cqe* cqe = nullptr;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      ++seen;
      handle(*cqe, now);
    }
    ::io_uring_cq_advance(&ring_, seen);
    flush_buffers();
  }

  void handle(const io_uring_cqe& cqe, std::int64_t now) {
    const std::uint64_t tag = ::io_uring_cqe_get_data64(&cqe);
    Conn& c = *conns()[static_cast<std::size_t>(tag >> 1)];
    const int res = cqe.res;
    if ((tag & 1) == kSend) {
      c.sending = 0;
      if (res < 0) io_error(c, -res, "write");
      c.sent += static_cast<std::uint64_t>(res);  // a short send: push() sends the rest
      push(c);
      return;
    }
    if (res > 0) {
      if (!(cqe.flags & IORING_CQE_F_BUFFER)) {
        throw LoadError(LoadError::Kind::Io, "io_uring recv completed without a buffer");
      }
      const auto bid = static_cast<std::uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
      received(c, bufs_.get() + std::size_t{bid} * kBufSize, static_cast<std::size_t>(res), now);
      give_back(bid);
    } else if (res == 0) {
      closed(c);
    } else if (res != -ENOBUFS) {  // out of buffers: they come back at the end of this pass
      io_error(c, -res, "read");
    }
    if (!(cqe.flags & IORING_CQE_F_MORE)) arm_recv(c);  // the kernel ended the multishot
  }

  void close() noexcept override {
    if (ring_ok_) {
      ::io_uring_queue_exit(&ring_);
      ring_ok_ = false;
    }
    if (br_ != nullptr) {
      ::munmap(br_, kBufCount * sizeof(io_uring_buf));
      br_ = nullptr;
    }
    bufs_.reset();
  }

  io_uring ring_{};
  bool ring_ok_ = false;
  bool fixed_ = false;  // connections are registered files
  io_uring_buf_ring* br_ = nullptr;
  std::unique_ptr<unsigned char[]> bufs_;
  unsigned returned_ = 0;  // buffers added back, not yet published to the kernel
  std::vector<SendSlot> slots_;
};

std::unique_ptr<Worker> make_worker(const Plan& plan, ErrorSlot& errors) {
  if (plan.cfg.io == IoBackend::Epoll) return std::make_unique<EpollWorker>(plan, errors);
  return std::make_unique<UringWorker>(plan, errors);
}

void sleep_until(std::int64_t t, const ErrorSlot& errors) {
  for (;;) {
    const std::int64_t left = t - now_ns();
    if (left <= 0 || errors.failed()) return;
    const std::int64_t step = std::min<std::int64_t>(left, 50'000'000);
    timespec ts{step / 1'000'000'000, step % 1'000'000'000};
    ::nanosleep(&ts, nullptr);
  }
}

// Raises the soft open-file limit as far as `needed` asks and the hard limit allows; throws
// when even the hard limit is too low.
void ensure_fd_limit(int connections) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) < 0) return;
  const rlim_t needed = static_cast<rlim_t>(connections) + 64;
  if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < needed) {
    const rlim_t hard = lim.rlim_max;
    lim.rlim_cur = hard == RLIM_INFINITY ? needed : std::min(needed, hard);
    ::setrlimit(RLIMIT_NOFILE, &lim);
    if (lim.rlim_cur < needed) {
      throw LoadError(LoadError::Kind::Connect,
                      std::to_string(connections) + " connections need " + std::to_string(needed) +
                          " file descriptors; the limit is " + std::to_string(hard) +
                          " (raise it with ulimit -n)");
    }
  }
}

}  // namespace

const char* io_name(IoBackend io) noexcept {
  return io == IoBackend::Epoll ? "epoll" : "uring";
}

std::string uring_unavailable() {
  io_uring ring{};
  if (const int rc = ::io_uring_queue_init(8, &ring, 0); rc < 0) {
    return sys_error("io_uring_queue_init (io_uring disabled or not built in?)", -rc);
  }
  std::string why;
  const std::size_t bytes = 8 * sizeof(io_uring_buf);
  void* mem = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (mem == MAP_FAILED) {
    why = sys_error("mmap", errno);
  } else {
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<std::uint64_t>(mem);
    reg.ring_entries = 8;
    if (const int rc = ::io_uring_register_buf_ring(&ring, &reg, 0); rc < 0) {
      why = sys_error("io_uring provided buffer rings (Linux 5.19+)", -rc);
    }
  }
  ::io_uring_queue_exit(&ring);  // before the buffer ring it may still hold is unmapped
  if (mem != MAP_FAILED) ::munmap(mem, bytes);
  return why;
}

std::int64_t stall_threshold_ns(std::int64_t median_ns) noexcept {
  return std::max<std::int64_t>(100 * median_ns, 10'000'000);
}

std::string validate(const LoadConfig& cfg) {
  if (cfg.port == 0) return "--port is required (the echo server's TCP port, 1-65535)";
  if (cfg.host.empty()) return "--host must not be empty";
  if (cfg.connections < 1 || cfg.connections > 100000) return "--connections must be 1..100000";
  if (cfg.threads < 1 || cfg.threads > cfg.connections) {
    return "--threads must be between 1 and the number of connections";
  }
  if (cfg.size < 1 || cfg.size > (64u << 20)) return "--size must be 1 byte .. 64 MiB";
  if (cfg.depth < 1 || cfg.depth > 4096) return "--depth must be 1..4096";
  if (!(cfg.warmup_s >= 0) || cfg.warmup_s > 86400) return "--warmup must be 0..86400 seconds";
  if (cfg.requests == 0 && (!(cfg.duration_s > 0) || cfg.duration_s > 86400)) {
    return "--duration must be > 0 and at most 86400 seconds";
  }
  if (!(cfg.rate >= 0) || cfg.rate > 1e8) return "--rate must be 0 (closed loop) .. 1e8 req/s";
  if (!(cfg.connect_timeout_s >= 0.001) || cfg.connect_timeout_s > 3600) {
    return "--connect-timeout must be 0.001..3600 seconds";
  }
  if (!(cfg.stall_timeout_s >= 0.001) || cfg.stall_timeout_s > 86400) {
    return "--stall-timeout must be 0.001..86400 seconds";
  }
  if ((!cfg.path.empty() || !cfg.body.empty()) && cfg.protocol != Protocol::Http) {
    return "--path and --body-file need --mode http";
  }
  if (!cfg.path.empty()) {
    if (const std::string why = http::bad_target(cfg.path); !why.empty()) {
      return "--path " + why;
    }
    if (cfg.body.empty()) return "--path needs --body-file (the page every response must be)";
  }
  if (!cfg.body.empty() && cfg.path.empty()) return "--body-file needs --path";
  if (!cfg.body.empty() && cfg.body.size() != cfg.size) {
    return "--size must be the --body-file's size (leave --size out)";
  }
  return "";
}

namespace {

// "host:port" for the Host header; an IPv6 literal goes in brackets.
std::string host_port(const LoadConfig& cfg) {
  const bool v6 = cfg.host.find(':') != std::string::npos;
  return (v6 ? "[" + cfg.host + "]" : cfg.host) + ":" + std::to_string(cfg.port);
}

std::string json_escaped(std::string_view s) {
  std::string out;
  for (const char ch : s) {
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (static_cast<unsigned char>(ch) < 0x20) {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\u%04x", ch);
      out += esc;
    } else {
      out += ch;
    }
  }
  return out;
}

std::vector<unsigned char> make_http_body(std::size_t size) {
  std::vector<unsigned char> body(size);
  for (std::size_t i = 0; i < size; ++i) body[i] = http::body_byte(i);
  return body;
}

}  // namespace

std::optional<ProcessClock> ProcessClock::take(int pid) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return std::nullopt;
  const std::unique_ptr<DIR, int (*)(DIR*)> guard(d, ::closedir);
  ProcessClock total;
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    const std::string path = dir + "/" + e->d_name + "/schedstat";
    const Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) continue;  // a thread that just ended
    std::array<char, 128> buf{};
    const ssize_t n = ::read(fd.get(), buf.data(), buf.size() - 1);
    unsigned long long on_cpu = 0, waited = 0;
    if (n > 0 && std::sscanf(buf.data(), "%llu %llu", &on_cpu, &waited) == 2) {
      total.cpu_s += static_cast<double>(on_cpu) / 1e9;
      total.runq_s += static_cast<double>(waited) / 1e9;
    }
  }
  return total;
}

LoadResult run_load(const LoadConfig& cfg, std::ostream* progress) {
  if (const std::string bad = validate(cfg); !bad.empty()) throw std::invalid_argument(bad);
  const bool is_http = cfg.protocol == Protocol::Http;
  const auto pattern = !is_http           ? make_pattern(cfg.size)
                       : cfg.body.empty() ? make_http_body(cfg.size)
                                          : cfg.body;
  const std::string request = !is_http           ? std::string()
                              : cfg.path.empty() ? http::request(cfg.size, host_port(cfg))
                                                 : http::request(cfg.path, host_port(cfg));
  ErrorSlot errors;
  if (cfg.io == IoBackend::Uring) {  // before connecting: say so at once, not per thread
    if (const std::string why = uring_unavailable(); !why.empty()) {
      throw LoadError(LoadError::Kind::Io,
                      "--io uring is not available here: " + why + " (use --io epoll)");
    }
  }

  ensure_fd_limit(cfg.connections);
  const std::int64_t connect_start = now_ns();
  std::vector<Fd> fds;
  try {
    fds = connect_many(cfg.host, cfg.port, cfg.connections, cfg.connect_timeout_s, progress);
  } catch (const std::exception& e) {
    throw LoadError(LoadError::Kind::Connect, e.what());
  }

  const std::int64_t t0 = now_ns();
  const bool counted = cfg.requests > 0;
  const auto s_to_ns = [](double s) { return static_cast<std::int64_t>(std::llround(s * 1e9)); };
  const std::int64_t from = counted ? t0 : t0 + s_to_ns(cfg.warmup_s);
  const std::int64_t to = counted ? INT64_MAX : from + s_to_ns(cfg.duration_s);
  const double interval = cfg.rate > 0 ? 1e9 * cfg.connections / cfg.rate : 0.0;
  const Plan plan{cfg, pattern, request, t0, from, to};

  std::vector<std::unique_ptr<Worker>> workers;
  for (int t = 0; t < cfg.threads; ++t) workers.push_back(make_worker(plan, errors));
  for (int i = 0; i < cfg.connections; ++i) {
    Conn c;
    c.id = i;
    c.fd = std::move(fds[static_cast<std::size_t>(i)]);
    // Spread the connections' schedules evenly over one interval.
    c.phase_ns = static_cast<std::int64_t>(interval * i / cfg.connections);
    workers[static_cast<std::size_t>(i % cfg.threads)]->add(std::move(c));
  }

  CpuSample cpu0 = CpuSample::take();
  std::vector<std::thread> threads;
  threads.reserve(workers.size());
  for (auto& w : workers) threads.emplace_back([&w] { w->run(); });
  std::optional<ProcessClock> server0, server1;
  if (!counted) {
    sleep_until(from, errors);
    cpu0 = CpuSample::take();  // echoload's own CPU over the measured window only
    if (cfg.server_pid > 0) {  // the server's, over exactly the same window
      server0 = ProcessClock::take(cfg.server_pid);
      sleep_until(to, errors);
      server1 = ProcessClock::take(cfg.server_pid);
    }
  }
  for (auto& th : threads) th.join();
  const CpuSample cpu1 = CpuSample::take();
  const std::int64_t end = counted ? now_ns() : to;
  errors.rethrow();

  LoadResult r;
  Histogram gaps;
  for (const auto& w : workers) {
    r.requests += w->stats.requests;
    r.bytes += w->bytes;
    r.unfinished += w->unfinished;
    r.latency.merge(w->latency);
    gaps.merge(w->gaps);
    r.max_gap_ns = std::max(r.max_gap_ns, w->stats.max_gap_ns);
    r.threads.push_back(w->stats);
  }
  r.connect_s = static_cast<double>(t0 - connect_start) / 1e9;
  r.seconds = static_cast<double>(end - from) / 1e9;  // counted: from == t0
  r.window_from_ns = from;
  r.window_to_ns = end;
  r.cpu_user_s = cpu1.user - cpu0.user;
  r.cpu_sys_s = cpu1.sys - cpu0.sys;
  if (server0 && server1) {
    r.server = ProcessClock{server1->cpu_s - server0->cpu_s, server1->runq_s - server0->runq_s};
  }
  if (r.requests == 0) {
    std::ostringstream msg;
    msg.precision(3);
    msg << "no request completed in the measured window (" << r.seconds << " s, " << cfg.connections
        << " connection(s)";
    if (r.unfinished) msg << ", " << r.unfinished << " request(s) unanswered";
    msg << "): the server accepts connections but does not reply";
    throw LoadError(LoadError::Kind::Stall, msg.str());
  }
  // Stalls: completion gaps far above the typical latency (percentile of completed ones).
  r.stall_threshold_ns = stall_threshold_ns(r.latency.quantile(0.5));
  r.stalls = gaps.count_above(r.stall_threshold_ns);
  return r;
}

std::string to_json(const LoadConfig& cfg, const LoadResult& r) {
  const auto us = [](std::int64_t ns) { return static_cast<double>(ns) / 1e3; };
  std::ostringstream o;
  o.precision(10);
  double cpu_total = 0, runq_total = 0;
  bool runq_known = true;
  o << "{\"host\":\"" << json_escaped(cfg.host) << "\",\"port\":" << cfg.port
    << ",\"connections\":" << cfg.connections << ",\"threads\":[";
  for (std::size_t i = 0; i < r.threads.size(); ++i) {
    const ThreadStats& t = r.threads[i];
    o << (i ? "," : "") << "{\"connections\":" << t.connections << ",\"requests\":" << t.requests
      << ",\"cpu_s\":" << t.cpu_s << ",\"runqueue_wait_s\":";
    if (t.runqueue_wait_s >= 0) {
      o << t.runqueue_wait_s;
    } else {
      o << "null";
    }
    o << ",\"max_gap_us\":" << us(t.max_gap_ns) << "}";
    cpu_total += t.cpu_s;
    runq_total += t.runqueue_wait_s;
    runq_known = runq_known && t.runqueue_wait_s >= 0;
  }
  o << "],\"threads_total\":{\"count\":" << r.threads.size() << ",\"cpu_s\":" << cpu_total
    << ",\"runqueue_wait_s\":";
  if (runq_known) {
    o << runq_total;
  } else {
    o << "null";
  }
  o << ",\"requests\":" << r.requests << "}"
    << ",\"io\":\"" << io_name(cfg.io) << "\""
    << ",\"protocol\":\"" << (cfg.protocol == Protocol::Http ? "http" : "echo") << "\""
    << ",\"size\":" << cfg.size << ",\"depth\":" << cfg.depth << ",\"mode\":\""
    << (cfg.rate > 0 ? "open" : "closed") << "\",\"target_rate\":" << cfg.rate
    << ",\"warmup_s\":" << (cfg.requests ? 0.0 : cfg.warmup_s) << ",\"seconds\":" << r.seconds
    << ",\"window_monotonic_ns\":{\"from\":" << r.window_from_ns << ",\"to\":" << r.window_to_ns
    << "},\"connect_s\":" << r.connect_s << ",\"connect_timeout_s\":" << cfg.connect_timeout_s
    << ",\"stall_timeout_s\":" << cfg.stall_timeout_s << ",\"requests\":" << r.requests
    << ",\"bytes\":" << r.bytes << ",\"req_per_s\":" << r.req_per_s()
    << ",\"mb_per_s\":" << r.mb_per_s() << ",\"unfinished_at_end\":" << r.unfinished
    << ",\"queued_at_end\":" << r.unfinished << ",\"verified\":true"
    << ",\"max_gap_us\":" << us(r.max_gap_ns)
    << ",\"stall_threshold_us\":" << us(r.stall_threshold_ns) << ",\"stalls\":" << r.stalls
    << ",\"cpu\":{\"user_s\":" << r.cpu_user_s << ",\"sys_s\":" << r.cpu_sys_s
    << ",\"cores\":" << r.cpu_cores() << "}"
    << ",\"latency_us\":{\"count\":" << r.latency.count() << ",\"min\":" << us(r.latency.min())
    << ",\"mean\":" << r.latency.mean() / 1e3 << ",\"p50\":" << us(r.latency.quantile(0.5))
    << ",\"p90\":" << us(r.latency.quantile(0.9)) << ",\"p99\":" << us(r.latency.quantile(0.99))
    << ",\"p999\":" << us(r.latency.quantile(0.999)) << ",\"max\":" << us(r.latency.max()) << "}";
  if (r.server) {
    o << ",\"server\":{\"pid\":" << cfg.server_pid << ",\"cpu_s\":" << r.server->cpu_s
      << ",\"runqueue_wait_s\":" << r.server->runq_s << "}";
  }
  o << "}";
  return o.str();
}

}  // namespace echo
