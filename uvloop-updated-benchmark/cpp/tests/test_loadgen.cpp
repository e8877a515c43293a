#include <gtest/gtest.h>
#include <unistd.h>

#include <array>

#include "loadgen.hpp"
#include "test_support.hpp"

using echo::LoadConfig;
using echo::LoadError;
using echo::run_load;
using echo::testing::counted;
using echo::testing::ScriptedServer;
using echo::testing::ServerThread;

namespace {
class Loadgen : public echo::testing::BackendTest {};
ECHO_ON_EVERY_BACKEND(Loadgen);

bool ProcessClockOf(int pid) {
  return echo::ProcessClock::take(pid).has_value();
}
}  // namespace

namespace {

LoadError::Kind failure_kind(const LoadConfig& cfg, std::string* message = nullptr) {
  try {
    run_load(cfg);
  } catch (const LoadError& e) {
    if (message) *message = e.what();
    return e.kind();
  }
  ADD_FAILURE() << "run_load did not fail";
  return LoadError::Kind::Io;
}

// An echo server that flips `mask` into every byte whose stream offset satisfies `corrupt`.
template <class Pred>
auto corrupting_echo(Pred corrupt, char mask) {
  return [corrupt, mask](int fd) {
    std::array<char, 4096> buf{};
    std::uint64_t total = 0;
    for (;;) {
      const ssize_t r = ::read(fd, buf.data(), buf.size());
      if (r <= 0) return;
      for (ssize_t i = 0; i < r; ++i, ++total) {
        if (corrupt(total)) buf[static_cast<std::size_t>(i)] ^= mask;
      }
      if (!echo::testing::write_all(fd, buf.data(), static_cast<std::size_t>(r))) return;
    }
  };
}

}  // namespace

TEST_P(Loadgen, VerifiesThousandsOfEchoesOverThreads) {
  ServerThread server(echo::make_epoll_server("127.0.0.1", 0));
  LoadConfig cfg = counted(server.port(), 6, 1000, 1000);
  cfg.threads = 3;
  cfg.depth = 4;
  const auto r = run_load(cfg);
  EXPECT_EQ(r.requests, 6000u);
  EXPECT_EQ(r.bytes, 6'000'000u);
  EXPECT_EQ(r.latency.count(), 6000u);
  EXPECT_GT(r.latency.min(), 0);
}

TEST_P(Loadgen, MeasuresTheServerProcessOverTheWindow) {
  // The server is a thread of this process: its pid's clocks cover it (and echoload's).
  ServerThread server(echo::make_epoll_server("127.0.0.1", 0));
  LoadConfig cfg = config();
  cfg.port = server.port();
  cfg.warmup_s = 0.05;
  cfg.duration_s = 0.2;
  cfg.server_pid = static_cast<int>(::getpid());
  const auto r = run_load(cfg);
  ASSERT_TRUE(r.server.has_value());
  EXPECT_GT(r.server->cpu_s, 0.0);
  EXPECT_GE(r.server->runq_s, 0.0);
  EXPECT_NE(echo::to_json(cfg, r).find("\"server\":{\"pid\":"), std::string::npos);
  EXPECT_FALSE(ProcessClockOf(0));  // no such process: nothing, not zeros
  cfg.server_pid = 0;
  EXPECT_FALSE(run_load(cfg).server.has_value());
}

TEST_P(Loadgen, LargeMessagesCrossManyReads) {
  ServerThread server(echo::make_epoll_server("127.0.0.1", 0));
  const auto r = run_load(counted(server.port(), 3, 100'000, 200));
  EXPECT_EQ(r.requests, 600u);
}

TEST_P(Loadgen, MoreDataInFlightThanTheReceiveBuffersHold) {
  // 32 connections x 2 x 512 KiB in flight: more than a thread's receive buffers (io_uring:
  // 256 x 32 KiB), so receives run out of buffers and must be re-armed without losing bytes.
  ServerThread server(echo::make_epoll_server("127.0.0.1", 0));
  LoadConfig cfg = counted(server.port(), 32, 512 * 1024, 6);
  cfg.depth = 2;
  const auto r = run_load(cfg);
  EXPECT_EQ(r.requests, 192u);
}

TEST_P(Loadgen, OpenLoopCompletesTheScheduledRequests) {
  ServerThread server(echo::make_epoll_server("127.0.0.1", 0));
  LoadConfig cfg = counted(server.port(), 2, 64, 300);
  cfg.rate = 20'000;  // 10k/s per connection: 300 requests in 30 ms
  const auto r = run_load(cfg);
  EXPECT_EQ(r.requests, 600u);
  EXPECT_EQ(r.latency.count(), 600u);
}

TEST_P(Loadgen, TimedRunCountsOnlyTheMeasuredWindow) {
  ServerThread server(echo::make_epoll_server("127.0.0.1", 0));
  LoadConfig cfg = config();
  cfg.port = server.port();
  cfg.warmup_s = 0.05;
  cfg.duration_s = 0.2;
  const std::int64_t before = echo::now_ns();
  const auto r = run_load(cfg);
  const std::int64_t after = echo::now_ns();
  EXPECT_DOUBLE_EQ(r.seconds, 0.2);
  // The window on CLOCK_MONOTONIC: after the warm-up, inside the call, as long as reported.
  EXPECT_GE(r.window_from_ns, before + 50'000'000);
  EXPECT_LE(r.window_to_ns, after);
  EXPECT_EQ(r.window_to_ns - r.window_from_ns, 200'000'000);
  const std::string json = echo::to_json(cfg, r);
  EXPECT_NE(json.find("\"window_monotonic_ns\":{\"from\":" + std::to_string(r.window_from_ns) +
                      ",\"to\":" + std::to_string(r.window_to_ns) + "}"),
            std::string::npos)
      << json;
  EXPECT_EQ(r.latency.count(), r.requests);
  EXPECT_EQ(r.bytes, r.requests * cfg.size);
  // The client did 0.25 s of socket work: it used some CPU, and at most all of its threads'.
  EXPECT_GT(r.cpu_user_s + r.cpu_sys_s, 0.0);
  EXPECT_LE(r.cpu_user_s + r.cpu_sys_s, 0.25 * cfg.threads + 0.05);
}

TEST_P(Loadgen, ShortReadsAndWritesFromTheServerAreReassembled) {
  // Echoes byte by byte: every response arrives in many tiny segments.
  ScriptedServer server(1, [](int fd) {
    char c;
    while (::read(fd, &c, 1) == 1) {
      if (!echo::testing::write_all(fd, &c, 1)) return;
    }
  });
  const auto r = run_load(counted(server.port(), 1, 300, 50));
  EXPECT_EQ(r.requests, 50u);
}

TEST_P(Loadgen, DetectsACorruptedByte) {
  ScriptedServer server(1, corrupting_echo([](std::uint64_t at) { return at == 1234; }, 0x40));
  std::string msg;
  EXPECT_EQ(failure_kind(counted(server.port(), 1, 1000, 10), &msg), LoadError::Kind::Mismatch);
  EXPECT_NE(msg.find("request 1, byte 234"), std::string::npos) << msg;
}

TEST_P(Loadgen, DetectsACorruptedLastByteOfEveryRequest) {
  // The last byte of a request is where an off-by-one in the comparison would hide.
  ScriptedServer server(1,
                        corrupting_echo([](std::uint64_t at) { return at % 1000 == 999; }, 0x01));
  std::string msg;
  EXPECT_EQ(failure_kind(counted(server.port(), 1, 1000, 10), &msg), LoadError::Kind::Mismatch);
  EXPECT_NE(msg.find("request 0, byte 999"), std::string::npos) << msg;
}

TEST_P(Loadgen, ReportsAPeerReset) {
  ScriptedServer server(1, [](int fd) {
    std::array<char, 100> buf{};
    echo::testing::read_exact(fd, buf.data(), buf.size());
    echo::testing::arm_reset(fd);  // closed on return
  });
  std::string msg;
  EXPECT_EQ(failure_kind(counted(server.port(), 1, 1000, 10), &msg), LoadError::Kind::Reset);
  EXPECT_NE(msg.find("reset"), std::string::npos) << msg;
}

TEST_P(Loadgen, ReportsAServerThatCloses) {
  ScriptedServer server(1, [](int fd) {
    std::array<char, 10> buf{};
    echo::testing::read_exact(fd, buf.data(), buf.size());
    ::shutdown(fd, SHUT_RDWR);
  });
  std::string msg;
  EXPECT_EQ(failure_kind(counted(server.port(), 1, 1000, 10), &msg), LoadError::Kind::Closed);
  EXPECT_NE(msg.find("did the server die"), std::string::npos) << msg;
}

TEST_P(Loadgen, ReportsAServerThatSendsTooMuch) {
  ScriptedServer server(1, [](int fd) {
    std::array<char, 10> buf{};
    echo::testing::read_exact(fd, buf.data(), buf.size());
    std::array<char, 20> twice{};
    echo::testing::write_all(fd, twice.data(), twice.size());
    std::array<char, 1> wait{};
    echo::testing::read_exact(fd, wait.data(), 1);  // until the client gives up
  });
  EXPECT_EQ(failure_kind(counted(server.port(), 1, 10, 1)), LoadError::Kind::Mismatch);
}

TEST_P(Loadgen, ReportsNothingListening) {
  std::uint16_t port = 0;
  {
    const echo::Fd probe = echo::listen_tcp("127.0.0.1", 0);
    port = echo::local_port(probe.get());
  }  // closed: nothing listens there now
  std::string msg;
  EXPECT_EQ(failure_kind(counted(port, 1, 10, 1), &msg), LoadError::Kind::Connect);
  EXPECT_NE(msg.find("is the server running"), std::string::npos) << msg;
}

TEST_P(Loadgen, RejectsBadConfigurations) {
  LoadConfig cfg = config();
  EXPECT_NE(echo::validate(cfg), "");  // no port
  cfg.port = 1;
  EXPECT_EQ(echo::validate(cfg), "");
  cfg.threads = 2;  // more threads than connections
  EXPECT_NE(echo::validate(cfg), "");
  cfg.threads = 1;
  cfg.size = 0;
  EXPECT_NE(echo::validate(cfg), "");
  cfg.size = 10;
  cfg.rate = -1;
  EXPECT_NE(echo::validate(cfg), "");
  EXPECT_THROW(run_load(cfg), std::invalid_argument);
}

TEST_P(Loadgen, JsonReportsWhatWasMeasured) {
  ServerThread server(echo::make_epoll_server("127.0.0.1", 0));
  const LoadConfig cfg = counted(server.port(), 1, 100, 137);
  const auto r = run_load(cfg);
  const std::string json = echo::to_json(cfg, r);
  const auto number = [&](const std::string& key) {
    const auto at = json.find("\"" + key + "\":");
    EXPECT_NE(at, std::string::npos) << key << " in " << json;
    return at == std::string::npos ? -1.0 : std::stod(json.substr(at + key.size() + 3));
  };
  EXPECT_EQ(number("requests"), 137.0);
  EXPECT_EQ(number("bytes"), 13'700.0);
  EXPECT_NEAR(number("req_per_s"), 137.0 / r.seconds, 137.0 / r.seconds * 1e-3);
  EXPECT_GT(number("p50"), 0.0);
  EXPECT_NE(json.find(std::string("\"io\":\"") + echo::io_name(GetParam()) + "\""),
            std::string::npos)
      << json;
  EXPECT_LE(number("p50"), number("p999"));
}

TEST_P(Loadgen, HostMayBeANameOrAnIpv6Literal) {
  {
    ServerThread server(echo::make_epoll_server("127.0.0.1", 0));
    LoadConfig cfg = counted(server.port(), 2, 100, 50);
    cfg.host = "localhost";
    EXPECT_EQ(run_load(cfg).requests, 100u);
  }
  {  // Skip only where the kernel has no IPv6 loopback (asked directly, not through net.cpp).
    const echo::Fd probe(::socket(AF_INET6, SOCK_STREAM, 0));
    sockaddr_in6 lo{};
    lo.sin6_family = AF_INET6;
    lo.sin6_addr = in6addr_loopback;
    if (!probe.valid() || ::bind(probe.get(), reinterpret_cast<sockaddr*>(&lo), sizeof lo) != 0) {
      GTEST_SKIP() << "no IPv6 loopback here";
    }
  }
  ServerThread server(echo::make_epoll_server("::1", 0));
  LoadConfig cfg = counted(server.port(), 2, 100, 50);
  cfg.host = "::1";
  EXPECT_EQ(run_load(cfg).requests, 100u);
}

TEST_P(Loadgen, ReportsAHostThatDoesNotResolve) {
  LoadConfig cfg = counted(9, 1, 10, 1);
  cfg.host = "no-such-host.invalid";
  std::string msg;
  EXPECT_EQ(failure_kind(cfg, &msg), LoadError::Kind::Connect);
  EXPECT_NE(msg.find("cannot resolve host 'no-such-host.invalid'"), std::string::npos) << msg;
}

TEST_P(Loadgen, ThreadsSplitTheConnectionsAndReportTheirOwnClocks) {
  ServerThread server(echo::make_epoll_server("127.0.0.1", 0));
  LoadConfig cfg = config();
  cfg.port = server.port();
  cfg.connections = 5;
  cfg.threads = 2;
  cfg.warmup_s = 0.4;
  cfg.duration_s = 0.1;
  const auto r = run_load(cfg);
  ASSERT_EQ(r.threads.size(), 2u);
  EXPECT_EQ(r.threads[0].connections, 3);  // connection i goes to thread i % 2
  EXPECT_EQ(r.threads[1].connections, 2);
  EXPECT_EQ(r.threads[0].requests + r.threads[1].requests, r.requests);
  for (const auto& t : r.threads) {
    EXPECT_GT(t.requests, 0u);
    EXPECT_GT(t.cpu_s, 0.0);
    EXPECT_LE(t.cpu_s, 0.1 + 0.02);  // the window only, not the warm-up before it
    EXPECT_GE(t.runqueue_wait_s, 0.0) << "/proc/self/task/<tid>/schedstat unreadable?";
  }
  const std::string json = echo::to_json(cfg, r);
  EXPECT_NE(json.find("\"threads\":[{\"connections\":3,"), std::string::npos) << json;
  EXPECT_NE(json.find("\"threads_total\":{\"count\":2,"), std::string::npos) << json;
  EXPECT_NE(json.find("\"runqueue_wait_s\":"), std::string::npos) << json;
}
