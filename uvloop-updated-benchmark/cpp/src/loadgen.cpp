#include "loadgen.hpp"

#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

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

struct Conn {
  Fd fd;
  int id = 0;
  std::uint64_t issued = 0;          // requests handed to the send side
  std::uint64_t completed = 0;       // responses fully received and verified
  std::uint64_t sent = 0;            // stream bytes written
  std::uint64_t received = 0;        // stream bytes read and verified
  std::int64_t phase_ns = 0;         // open loop: offset of this connection's schedule
  std::vector<std::int64_t> stamps;  // closed loop: issue time of request k at k % depth
  bool want_out = false;
};

class Worker {
 public:
  Worker(const LoadConfig& cfg, const std::vector<unsigned char>& pattern, ErrorSlot& errors,
         std::int64_t t0, std::int64_t measure_from, std::int64_t measure_to)
      : cfg_(cfg),
        pattern_(pattern),
        errors_(errors),
        t0_(t0),
        from_(measure_from),
        to_(measure_to),
        interval_ns_(cfg.rate > 0 ? 1e9 * cfg.connections / cfg.rate : 0.0),
        buf_(new unsigned char[kReadBuf]) {}

  void add(Conn conn) { conns_.push_back(std::make_unique<Conn>(std::move(conn))); }

  void run() noexcept {
    try {
      loop();
    } catch (const LoadError& e) {
      errors_.set(e.kind(), e.what());
    } catch (const std::exception& e) {
      errors_.set(LoadError::Kind::Io, e.what());
    }
  }

  std::uint64_t requests = 0, bytes = 0, late = 0;
  Histogram latency;

 private:
  [[nodiscard]] bool open_loop() const { return cfg_.rate > 0; }
  [[nodiscard]] bool counted() const { return cfg_.requests > 0; }

  [[nodiscard]] std::int64_t due(const Conn& c, std::uint64_t k) const {
    return t0_ + c.phase_ns +
           static_cast<std::int64_t>(std::llround(interval_ns_ * static_cast<double>(k)));
  }
  [[nodiscard]] bool may_issue(const Conn& c) const {
    return !counted() || c.issued < cfg_.requests;
  }

  void loop() {
    ep_.reset(::epoll_create1(EPOLL_CLOEXEC));
    if (!ep_.valid()) throw_sys("epoll_create1");
    for (auto& c : conns_) {
      set_nonblocking(c->fd.get());
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.ptr = c.get();
      if (::epoll_ctl(ep_.get(), EPOLL_CTL_ADD, c->fd.get(), &ev) < 0) throw_sys("epoll_ctl");
      if (!open_loop()) {
        c->stamps.assign(static_cast<std::size_t>(cfg_.depth), 0);
        const std::int64_t now = now_ns();
        for (int i = 0; i < cfg_.depth && may_issue(*c); ++i) issue_closed(*c, now);
        flush(*c);
      }
    }
    std::array<epoll_event, 256> events{};
    for (;;) {
      const std::int64_t now = now_ns();
      if (errors_.failed()) return;
      if (counted() ? all_done() : now >= to_) break;
      std::int64_t wake = counted() ? now + 100'000'000 : to_;
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
    if (open_loop()) {
      for (auto& c : conns_) late += c->issued - c->completed;
    }
  }

  [[nodiscard]] bool all_done() const {
    return std::all_of(conns_.begin(), conns_.end(),
                       [&](const auto& c) { return c->completed >= cfg_.requests; });
  }

  // Open loop: issue every request whose time has come; returns the next due time.
  std::int64_t issue_due(std::int64_t now) {
    std::int64_t next = INT64_MAX;
    for (auto& c : conns_) {
      bool any = false;
      while (may_issue(*c) && due(*c, c->issued) <= now) {
        ++c->issued;
        any = true;
      }
      if (any) flush(*c);
      if (may_issue(*c)) next = std::min(next, due(*c, c->issued));
    }
    return next;
  }

  void issue_closed(Conn& c, std::int64_t now) {
    c.stamps[c.issued % c.stamps.size()] = now;
    ++c.issued;
  }

  // Writes as much of the issued-but-unsent stream as the socket takes.
  void flush(Conn& c) {
    const std::uint64_t size = cfg_.size;
    while (c.sent < c.issued * size) {
      std::array<iovec, 16> iov{};
      std::size_t n_iov = 0;
      std::uint64_t pos = c.sent;
      while (n_iov < iov.size() && pos < c.issued * size) {
        const std::uint64_t k = pos / size, off = pos % size;
        const std::size_t len = static_cast<std::size_t>(size - off);
        iov[n_iov].iov_base = const_cast<unsigned char*>(pattern_.data() + (k % kShifts) + off);
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
    const bool want = c.sent < c.issued * size;
    if (want != c.want_out) {
      epoll_event ev{};
      ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
      ev.data.ptr = &c;
      if (::epoll_ctl(ep_.get(), EPOLL_CTL_MOD, c.fd.get(), &ev) < 0) throw_sys("epoll_ctl");
      c.want_out = want;
    }
  }

  void on_readable(Conn& c) {
    const std::uint64_t size = cfg_.size;
    for (;;) {
      const ssize_t r = ::read(c.fd.get(), buf_.get(), kReadBuf);
      if (r < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) return;
        io_error(c, errno, "read");
      }
      if (r == 0) {
        throw LoadError(LoadError::Kind::Closed,
                        "the server closed connection " + std::to_string(c.id) + " after echoing " +
                            std::to_string(c.received) + " of " + std::to_string(c.sent) +
                            " bytes sent (did the server die?)");
      }
      const auto got = static_cast<std::uint64_t>(r);
      if (c.received + got > c.sent) {
        throw LoadError(LoadError::Kind::Mismatch,
                        "connection " + std::to_string(c.id) + ": the server sent " +
                            std::to_string(c.received + got) + " bytes but was only sent " +
                            std::to_string(c.sent) + " (not an echo server?)");
      }
      const std::int64_t now = now_ns();
      std::uint64_t done = 0;
      bool issued = false;
      while (done < got) {
        const std::uint64_t k = c.received / size, off = c.received % size;
        const std::uint64_t len = std::min(size - off, got - done);
        const unsigned char* want = pattern_.data() + (k % kShifts) + off;
        if (std::memcmp(buf_.get() + done, want, static_cast<std::size_t>(len)) != 0) {
          mismatch(c, k, off, buf_.get() + done, want, len);
        }
        c.received += len;
        done += len;
        if (off + len == size) {
          complete(c, k, now);
          if (!open_loop() && may_issue(c)) {
            issue_closed(c, now);
            issued = true;
          }
        }
      }
      if (issued) flush(c);
      if (static_cast<std::size_t>(r) < kReadBuf) return;
    }
  }

  void complete(Conn& c, std::uint64_t k, std::int64_t now) {
    ++c.completed;
    const std::int64_t start = open_loop() ? due(c, k) : c.stamps[k % c.stamps.size()];
    if (counted() || (now >= from_ && now < to_)) {
      ++requests;
      bytes += cfg_.size;
      latency.record(now - start);
    }
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
                                    "after echoing " +
                                    std::to_string(c.received) + " bytes",
                                err));
    }
    throw LoadError(LoadError::Kind::Io, sys_error(where + ": " + op, err));
  }

  const LoadConfig& cfg_;
  const std::vector<unsigned char>& pattern_;
  ErrorSlot& errors_;
  std::int64_t t0_, from_, to_;
  double interval_ns_;
  std::unique_ptr<unsigned char[]> buf_;
  std::vector<std::unique_ptr<Conn>> conns_;
  Fd ep_;
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

}  // namespace

std::string validate(const LoadConfig& cfg) {
  if (cfg.port == 0) return "--port is required (the echo server's TCP port, 1-65535)";
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
  return "";
}

LoadResult run_load(const LoadConfig& cfg) {
  if (const std::string bad = validate(cfg); !bad.empty()) throw std::invalid_argument(bad);
  const auto pattern = make_pattern(cfg.size);
  ErrorSlot errors;

  std::vector<Conn> conns;
  conns.reserve(static_cast<std::size_t>(cfg.connections));
  for (int i = 0; i < cfg.connections; ++i) {
    Conn c;
    c.id = i;
    try {
      c.fd = connect_tcp(cfg.host, cfg.port);
    } catch (const std::exception& e) {
      throw LoadError(LoadError::Kind::Connect,
                      "connection " + std::to_string(i) + ": " + e.what());
    }
    conns.push_back(std::move(c));
  }

  const std::int64_t t0 = now_ns();
  const bool counted = cfg.requests > 0;
  const auto s_to_ns = [](double s) { return static_cast<std::int64_t>(std::llround(s * 1e9)); };
  const std::int64_t from = counted ? t0 : t0 + s_to_ns(cfg.warmup_s);
  const std::int64_t to = counted ? INT64_MAX : from + s_to_ns(cfg.duration_s);
  const double interval = cfg.rate > 0 ? 1e9 * cfg.connections / cfg.rate : 0.0;

  std::vector<std::unique_ptr<Worker>> workers;
  for (int t = 0; t < cfg.threads; ++t) {
    workers.push_back(std::make_unique<Worker>(cfg, pattern, errors, t0, from, to));
  }
  for (auto& c : conns) {
    // Spread the connections' schedules evenly over one interval.
    c.phase_ns = static_cast<std::int64_t>(interval * c.id / cfg.connections);
    workers[static_cast<std::size_t>(c.id % cfg.threads)]->add(std::move(c));
  }

  CpuSample cpu0 = CpuSample::take();
  std::vector<std::thread> threads;
  threads.reserve(workers.size());
  for (auto& w : workers) threads.emplace_back([&w] { w->run(); });
  if (!counted) {
    sleep_until(from, errors);
    cpu0 = CpuSample::take();  // echoload's own CPU over the measured window only
  }
  for (auto& th : threads) th.join();
  const CpuSample cpu1 = CpuSample::take();
  const std::int64_t end = counted ? now_ns() : to;
  errors.rethrow();

  LoadResult r;
  for (const auto& w : workers) {
    r.requests += w->requests;
    r.bytes += w->bytes;
    r.issued_late += w->late;
    r.latency.merge(w->latency);
  }
  r.seconds = static_cast<double>(end - from) / 1e9;  // counted: from == t0
  r.cpu_user_s = cpu1.user - cpu0.user;
  r.cpu_sys_s = cpu1.sys - cpu0.sys;
  return r;
}

std::string to_json(const LoadConfig& cfg, const LoadResult& r) {
  const auto us = [](std::int64_t ns) { return static_cast<double>(ns) / 1e3; };
  std::ostringstream o;
  o.precision(10);
  o << "{\"host\":\"" << cfg.host << "\",\"port\":" << cfg.port
    << ",\"connections\":" << cfg.connections << ",\"threads\":" << cfg.threads
    << ",\"size\":" << cfg.size << ",\"depth\":" << cfg.depth << ",\"mode\":\""
    << (cfg.rate > 0 ? "open" : "closed") << "\",\"target_rate\":" << cfg.rate
    << ",\"warmup_s\":" << (cfg.requests ? 0.0 : cfg.warmup_s) << ",\"seconds\":" << r.seconds
    << ",\"requests\":" << r.requests << ",\"bytes\":" << r.bytes
    << ",\"req_per_s\":" << r.req_per_s() << ",\"mb_per_s\":" << r.mb_per_s()
    << ",\"queued_at_end\":" << r.issued_late << ",\"verified\":true"
    << ",\"cpu\":{\"user_s\":" << r.cpu_user_s << ",\"sys_s\":" << r.cpu_sys_s
    << ",\"cores\":" << r.cpu_cores() << "}"
    << ",\"latency_us\":{\"count\":" << r.latency.count() << ",\"min\":" << us(r.latency.min())
    << ",\"mean\":" << r.latency.mean() / 1e3 << ",\"p50\":" << us(r.latency.quantile(0.5))
    << ",\"p90\":" << us(r.latency.quantile(0.9)) << ",\"p99\":" << us(r.latency.quantile(0.99))
    << ",\"p999\":" << us(r.latency.quantile(0.999)) << ",\"max\":" << us(r.latency.max()) << "}}";
  return o.str();
}

}  // namespace echo
