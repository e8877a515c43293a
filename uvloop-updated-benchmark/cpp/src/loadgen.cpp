#include "loadgen.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/resource.h>
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
  std::uint64_t issued = 0;          // requests handed to the send side
  std::uint64_t completed = 0;       // responses fully received and verified
  std::uint64_t sent = 0;            // stream bytes written
  std::uint64_t received = 0;        // stream bytes read (and, echo, verified)
  std::int64_t phase_ns = 0;         // open loop: offset of this connection's schedule
  std::int64_t busy_since = 0;       // last completion, or when work arrived on an idle conn
  std::vector<std::int64_t> stamps;  // closed loop: issue time of request k at k % depth
  std::optional<http::ResponseReader> http;
  bool want_out = false;
};

// What every worker shares, read-only.
struct Plan {
  const LoadConfig& cfg;
  const std::vector<unsigned char>& pattern;  // echo: payload windows; http: the body
  const std::string& request;                 // http: the request every connection repeats
  std::int64_t t0, from, to;
};

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
        unit_(cfg_.protocol == Protocol::Http ? request_.size() : cfg_.size),
        buf_(new unsigned char[kReadBuf]) {}

  void add(Conn conn) {
    if (cfg_.protocol == Protocol::Http) conn.http.emplace(pattern_.data(), cfg_.size);
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
  }

  ThreadStats stats;
  std::uint64_t bytes = 0, unfinished = 0;
  Histogram latency;
  Histogram gaps;  // ns: for each completion, the time since the previous progress

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
    ep_.reset(::epoll_create1(EPOLL_CLOEXEC));
    if (!ep_.valid()) throw_sys("epoll_create1");
    stats.connections = static_cast<int>(conns_.size());
    std::int64_t now = now_ns();
    begin_window(now);
    for (auto& c : conns_) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.ptr = c.get();
      if (::epoll_ctl(ep_.get(), EPOLL_CTL_ADD, c->fd.get(), &ev) < 0) throw_sys("epoll_ctl");
      if (!open_loop()) {
        c->stamps.assign(static_cast<std::size_t>(cfg_.depth), 0);
        for (int i = 0; i < cfg_.depth && may_issue(*c); ++i) issue(*c, now);
        flush(*c);
      }
    }
    // One wake-up serves every ready socket (up to 1024 of them).
    std::vector<epoll_event> events(std::clamp<std::size_t>(conns_.size(), 16, 1024));
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
      const std::int64_t wait = std::max<std::int64_t>(0, wake - now);
      timespec ts{wait / 1'000'000'000, wait % 1'000'000'000};
      const int n =
          ::epoll_pwait2(ep_.get(), events.data(), static_cast<int>(events.size()), &ts, nullptr);
      if (n < 0) {
        if (errno == EINTR) continue;
        throw_sys("epoll_pwait2");
      }
      for (int i = 0; i < n; ++i) {
        auto& c = *static_cast<Conn*>(events[static_cast<std::size_t>(i)].data.ptr);
        const auto ev = events[static_cast<std::size_t>(i)].events;
        if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(c);
        if (ev & EPOLLOUT) flush(c);
      }
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
      if (any) flush(*c);
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

  // Writes as much of the issued-but-unsent stream as the socket takes.
  void flush(Conn& c) {
    while (c.sent < c.issued * unit_) {
      std::array<iovec, 16> iov{};
      std::size_t n_iov = 0;
      std::uint64_t pos = c.sent;
      while (n_iov < iov.size() && pos < c.issued * unit_) {
        const std::uint64_t k = pos / unit_, off = pos % unit_;
        const auto len = static_cast<std::size_t>(unit_ - off);
        iov[n_iov].iov_base = const_cast<unsigned char*>(unit_data(k) + off);
        iov[n_iov].iov_len = len;
        ++n_iov;
        pos += len;
      }
      const ssize_t w = ::writev(c.fd.get(), iov.data(), static_cast<int>(n_iov));
      if (w < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) break;
        io_error(c, errno, "write");
      }
      c.sent += static_cast<std::uint64_t>(w);
    }
    const bool want = c.sent < c.issued * unit_;
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
      if (r == 0) {
        throw LoadError(LoadError::Kind::Closed,
                        "the server closed connection " + std::to_string(c.id) + " after " +
                            std::to_string(c.completed) + " of " + std::to_string(c.issued) +
                            " responses, " + std::to_string(c.received) + " of " +
                            std::to_string(c.sent) + " bytes (did the server die?)");
      }
      const auto got = static_cast<std::size_t>(r);
      const std::int64_t now = now_ns();
      const bool issued = http() ? consume_http(c, got, now) : consume_echo(c, got, now);
      if (issued) flush(c);
      if (got < kReadBuf) return;
    }
  }

  // Verifies echoed bytes; returns whether a new request was issued (closed loop).
  bool consume_echo(Conn& c, std::size_t got, std::int64_t now) {
    const std::uint64_t size = cfg_.size;
    if (c.received + got > c.sent) {
      throw LoadError(LoadError::Kind::Mismatch,
                      "connection " + std::to_string(c.id) + ": the server sent " +
                          std::to_string(c.received + got) + " bytes but was only sent " +
                          std::to_string(c.sent) + " (not an echo server?)");
    }
    std::uint64_t done = 0;
    bool issued = false;
    while (done < got) {
      const std::uint64_t k = c.received / size, off = c.received % size;
      const std::uint64_t len = std::min<std::uint64_t>(size - off, got - done);
      const unsigned char* want = pattern_.data() + (k % kShifts) + off;
      if (std::memcmp(buf_.get() + done, want, static_cast<std::size_t>(len)) != 0) {
        mismatch(c, k, off, buf_.get() + done, want, len);
      }
      c.received += len;
      done += len;
      if (off + len == size) issued |= complete(c, k, now);
    }
    return issued;
  }

  bool consume_http(Conn& c, std::size_t got, std::int64_t now) {
    std::uint64_t n = 0;
    try {
      n = c.http->feed(buf_.get(), got);
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

  const LoadConfig& cfg_;
  const std::vector<unsigned char>& pattern_;
  const std::string& request_;
  ErrorSlot& errors_;
  std::int64_t t0_, from_, to_;
  double interval_ns_;
  std::int64_t stall_ns_, check_every_ns_;
  std::uint64_t unit_;  // bytes per request on the wire
  std::unique_ptr<unsigned char[]> buf_;
  std::vector<std::unique_ptr<Conn>> conns_;
  Fd ep_;
  std::uint64_t outstanding_ = 0;  // requests issued and not completed, all connections
  std::int64_t progress_ns_ = 0;   // last completion, or when work arrived on an idle thread
  bool window_begun_ = false;
  ThreadClock clock0_;
};

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
  const auto pattern = is_http ? make_http_body(cfg.size) : make_pattern(cfg.size);
  const std::string request = is_http ? http::request(cfg.size, host_port(cfg)) : std::string();
  ErrorSlot errors;

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
  for (int t = 0; t < cfg.threads; ++t) workers.push_back(std::make_unique<Worker>(plan, errors));
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
    << ",\"protocol\":\"" << (cfg.protocol == Protocol::Http ? "http" : "echo") << "\""
    << ",\"size\":" << cfg.size << ",\"depth\":" << cfg.depth << ",\"mode\":\""
    << (cfg.rate > 0 ? "open" : "closed") << "\",\"target_rate\":" << cfg.rate
    << ",\"warmup_s\":" << (cfg.requests ? 0.0 : cfg.warmup_s) << ",\"seconds\":" << r.seconds
    << ",\"connect_s\":" << r.connect_s << ",\"connect_timeout_s\":" << cfg.connect_timeout_s
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
