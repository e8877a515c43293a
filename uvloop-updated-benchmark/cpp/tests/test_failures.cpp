// echoload against servers that misbehave without breaking a connection: silent, paused,
// slow to accept, answering only some requests. Each must end in a loud failure or a
// flagged result within its timeout, never in a hang or a clean-looking success.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "loadgen.hpp"
#include "test_support.hpp"

using echo::LoadConfig;
using echo::LoadError;
using echo::run_load;
using echo::testing::counted;
using echo::testing::echo_until;
using echo::testing::ScriptedServer;
using echo::testing::SlowAcceptServer;
using echo::testing::swallow;
using namespace std::chrono_literals;

namespace {

class Failures : public echo::testing::BackendTest {
 protected:
  [[nodiscard]] LoadConfig timed(std::uint16_t port, int conns, double duration_s) const {
    LoadConfig cfg = config();
    cfg.port = port;
    cfg.connections = conns;
    cfg.size = 100;
    cfg.warmup_s = 0;
    cfg.duration_s = duration_s;
    return cfg;
  }
};
ECHO_ON_EVERY_BACKEND(Failures);

double seconds_since(std::int64_t t) {
  return static_cast<double>(echo::now_ns() - t) / 1e9;
}

// The failure run_load ends with, and how long it took.
struct Failure {
  LoadError::Kind kind = LoadError::Kind::Io;
  std::string message;
  double seconds = 0;
  bool failed = false;
};

Failure failure_of(const LoadConfig& cfg) {
  Failure f;
  const std::int64_t t0 = echo::now_ns();
  try {
    run_load(cfg);
  } catch (const LoadError& e) {
    f = {e.kind(), e.what(), 0, true};
  }
  f.seconds = seconds_since(t0);
  return f;
}

// Echoes, but sleeps `pause` once after `after` bytes, on the first connection accepted only.
auto pausing_echo(std::uint64_t after, std::chrono::milliseconds pause) {
  return [after, pause](int fd, int index) {
    std::array<char, 4096> buf{};
    std::uint64_t total = 0;
    bool paused = index != 0;
    for (;;) {
      const ssize_t r = ::read(fd, buf.data(), buf.size());
      if (r <= 0) return;
      total += static_cast<std::uint64_t>(r);
      if (!paused && total >= after) {
        std::this_thread::sleep_for(pause);
        paused = true;
      }
      if (!echo::testing::write_all(fd, buf.data(), static_cast<std::size_t>(r))) return;
    }
  };
}

}  // namespace

TEST_P(Failures, SilentServerFailsWithinTheStallTimeout) {
  ScriptedServer server(2, swallow);
  LoadConfig cfg = counted(server.port(), 2, 100, 10);
  cfg.stall_timeout_s = 0.3;
  const Failure f = failure_of(cfg);
  ASSERT_TRUE(f.failed) << "a silent server must not pass";
  EXPECT_EQ(f.kind, LoadError::Kind::Stall) << f.message;
  EXPECT_NE(f.message.find("connections 0, 1"), std::string::npos) << f.message;
  EXPECT_GE(f.seconds, 0.3);
  EXPECT_LT(f.seconds, 1.3);
}

TEST_P(Failures, SilentServerInAShortWindowIsZeroRequestsAndFails) {
  ScriptedServer server(1, swallow);
  const Failure f = failure_of(timed(server.port(), 1, 0.2));  // window < stall timeout
  ASSERT_TRUE(f.failed) << "0 requests must not pass";
  EXPECT_EQ(f.kind, LoadError::Kind::Stall) << f.message;
  EXPECT_NE(f.message.find("no request completed"), std::string::npos) << f.message;
}

TEST_P(Failures, ServerPausedLongerThanTheStallTimeoutIsNamed) {
  // Connection 0 is established first (it probes the address), so it is accepted first: it
  // stops for 1.5 s after 20 requests; connection 1 is served throughout.
  ScriptedServer server(2, pausing_echo(2000, 1500ms));
  LoadConfig cfg = counted(server.port(), 2, 100, 100'000);
  cfg.stall_timeout_s = 0.4;
  const Failure f = failure_of(cfg);
  ASSERT_TRUE(f.failed);
  EXPECT_EQ(f.kind, LoadError::Kind::Stall) << f.message;
  EXPECT_NE(f.message.find("on connection 0:"), std::string::npos) << f.message;
  EXPECT_LT(f.seconds, 1.4);
}

TEST_P(Failures, ShortPauseIsReportedAsAStall) {
  // 300 ms without an answer, well inside the stall timeout: the run passes, but the gap
  // shows, and is counted as a stall (it hides in the percentiles: 1 request in 3,000).
  ScriptedServer server(1, pausing_echo(100 * 500, 300ms));
  LoadConfig cfg = counted(server.port(), 1, 100, 3000);
  const auto r = run_load(cfg);
  EXPECT_EQ(r.requests, 3000u);
  EXPECT_GE(r.max_gap_ns, 290'000'000);
  EXPECT_GE(r.stalls, 1u);
  EXPECT_GE(r.latency.max(), 290'000'000);
  const std::string json = echo::to_json(cfg, r);
  EXPECT_NE(json.find("\"stalls\":"), std::string::npos) << json;
  EXPECT_NE(json.find("\"max_gap_us\":"), std::string::npos) << json;
}

TEST_P(Failures, SilenceUntilTheWindowEndsCountsAsAGap) {
  // The server answers for 100 ms of a 600 ms window, then swallows: no completion ends that
  // gap, so it must be measured up to the end of the window.
  ScriptedServer server(1, [](int fd) {
    const std::int64_t until = echo::now_ns() + 100'000'000;
    echo_until(fd, [until](std::uint64_t) { return echo::now_ns() >= until; });
  });
  const auto r = run_load(timed(server.port(), 1, 0.6));
  EXPECT_GT(r.requests, 0u);
  EXPECT_GE(r.max_gap_ns, 400'000'000);
  EXPECT_GE(r.stalls, 1u);
}

TEST_P(Failures, OpenLoopCountsRequestsUnansweredAtTheEnd) {
  // Answers the first 10 requests only; 1,000 req/s for 0.3 s schedules about 300.
  ScriptedServer server(
      1, [](int fd) { echo_until(fd, [](std::uint64_t echoed) { return echoed >= 10 * 100; }); });
  LoadConfig cfg = timed(server.port(), 1, 0.3);
  cfg.rate = 1000;
  const auto r = run_load(cfg);
  EXPECT_GE(r.requests, 10u);
  EXPECT_LE(r.requests, 20u);  // a read may hold a few requests past the 10th
  EXPECT_GT(r.unfinished, 250u);
  EXPECT_EQ(r.latency.count(), r.requests + r.unfinished);
  // The oldest unanswered one waited nearly the whole window.
  EXPECT_GT(r.latency.max(), 250'000'000);
  const std::string json = echo::to_json(cfg, r);
  EXPECT_NE(json.find("\"unfinished_at_end\":" + std::to_string(r.unfinished)), std::string::npos)
      << json;
}

TEST_P(Failures, ServerThatNeverAcceptsFailsAtTheConnectTimeout) {
  SlowAcceptServer server(1, 0ms);  // backlog 1, never accepts
  LoadConfig cfg = counted(server.port(), 50, 100, 1);
  cfg.connect_timeout_s = 0.5;
  const Failure f = failure_of(cfg);
  ASSERT_TRUE(f.failed);
  EXPECT_EQ(f.kind, LoadError::Kind::Connect) << f.message;
  EXPECT_NE(f.message.find("connect timed out"), std::string::npos) << f.message;
  EXPECT_NE(f.message.find("of 50 connections"), std::string::npos) << f.message;
  EXPECT_GE(f.seconds, 0.5);
  EXPECT_LT(f.seconds, 1.5);
}

TEST_P(Failures, SlowAcceptingServerCompletesOrFailsClearlyInTime) {
  // 1,000 connections, backlog 5, one accept every 2 ms. A SYN that finds the backlog full is
  // dropped and retried by the kernel after 1 s, 3 s, ...; a handshake whose last ACK finds it
  // full completes on the client's side only, until the server's SYN-ACK is retried. So:
  // either every connection makes it and the echoes pass, or the run fails saying which
  // connections wait, within the connect timeout plus the stall timeout.
  SlowAcceptServer server(5, 2ms);
  LoadConfig cfg = counted(server.port(), 1000, 100, 1);
  cfg.connect_timeout_s = 2.0;
  cfg.stall_timeout_s = 1.0;
  const std::int64_t t0 = echo::now_ns();
  try {
    const auto r = run_load(cfg);
    EXPECT_EQ(r.requests, 1000u);
  } catch (const LoadError& e) {
    const std::string msg = e.what();
    if (e.kind() == LoadError::Kind::Connect) {
      EXPECT_NE(msg.find("of 1000 connections"), std::string::npos) << msg;
    } else {
      EXPECT_EQ(e.kind(), LoadError::Kind::Stall) << msg;
      EXPECT_NE(msg.find("not accepted yet"), std::string::npos) << msg;
    }
  }
  EXPECT_LT(seconds_since(t0), 2.0 + 1.0 + 1.0);
}
