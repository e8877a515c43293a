#include <gtest/gtest.h>
#include <poll.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <numeric>
#include <stdexcept>
#include <thread>
#include <vector>

#include "loadgen.hpp"
#include "test_support.hpp"

using echo::testing::ServerThread;

namespace {

class Servers : public ::testing::TestWithParam<const char*> {
 protected:
  std::unique_ptr<echo::EchoServer> make() {
    const std::string engine = GetParam();
    if (engine == "epoll") return echo::make_epoll_server("127.0.0.1", 0);
    if (engine == "epoll_busy") return echo::make_epoll_server("127.0.0.1", 0, true);
    try {
      return echo::make_uring_server("127.0.0.1", 0);
    } catch (const std::runtime_error&) {
      return nullptr;  // kernel without io_uring: skipped below
    }
  }
};

#define MAKE_OR_SKIP(var)                                              \
  auto var##_server = make();                                          \
  if (!var##_server) GTEST_SKIP() << "io_uring is not available here"; \
  ServerThread var(std::move(var##_server))

echo::LoadConfig counted(std::uint16_t port, int conns, std::size_t size, std::uint64_t n,
                         int depth) {
  echo::LoadConfig cfg;
  cfg.port = port;
  cfg.connections = conns;
  cfg.size = size;
  cfg.requests = n;
  cfg.depth = depth;
  return cfg;
}

}  // namespace

TEST_P(Servers, EchoesThousandsOfMessagesVerified) {
  MAKE_OR_SKIP(server);
  const auto r = echo::run_load(counted(server.port(), 8, 1000, 500, 2));
  EXPECT_EQ(r.requests, 4000u);
}

TEST_P(Servers, EchoesMessagesLargerThanItsBuffer) {
  MAKE_OR_SKIP(server);
  // 100 kB requests, 4 in flight: the server's 64 KiB reads and short sends must keep order.
  const auto r = echo::run_load(counted(server.port(), 3, 100'000, 40, 4));
  EXPECT_EQ(r.requests, 120u);
}

TEST_P(Servers, HandlesByteByByteClients) {
  MAKE_OR_SKIP(server);
  const echo::Fd c = echo::connect_tcp("127.0.0.1", server.port());
  std::array<char, 256> sent{}, got{};
  std::iota(sent.begin(), sent.end(), 0);
  for (char& ch : sent) ASSERT_TRUE(echo::testing::write_all(c.get(), &ch, 1));
  ASSERT_TRUE(echo::testing::read_exact(c.get(), got.data(), got.size()));
  EXPECT_EQ(sent, got);
}

TEST_P(Servers, SurvivesAPeerResetAndServesTheNextClient) {
  MAKE_OR_SKIP(server);
  for (int i = 0; i < 20; ++i) {
    const echo::Fd c = echo::connect_tcp("127.0.0.1", server.port());
    std::array<char, 5000> data{};
    ASSERT_TRUE(echo::testing::write_all(c.get(), data.data(), data.size()));
    echo::testing::arm_reset(c.get());  // closed below: reset while the echo is in flight
  }
  const auto r = echo::run_load(counted(server.port(), 2, 512, 200, 1));
  EXPECT_EQ(r.requests, 400u);
  EXPECT_GE(server.server().accepted(), 20u);
}

TEST_P(Servers, ClosesWhenTheClientCloses) {
  MAKE_OR_SKIP(server);
  const echo::Fd c = echo::connect_tcp("127.0.0.1", server.port());
  ASSERT_TRUE(echo::testing::write_all(c.get(), "ping", 4));
  std::array<char, 4> got{};
  ASSERT_TRUE(echo::testing::read_exact(c.get(), got.data(), got.size()));
  ::shutdown(c.get(), SHUT_WR);
  char extra = 0;
  EXPECT_EQ(::read(c.get(), &extra, 1), 0);  // the server saw EOF and closed its side
}

TEST_P(Servers, AClientThatDoesNotReadStallsOnlyItself) {
  MAKE_OR_SKIP(server);
  // 32 MB sent without reading a byte back: the server stops receiving from this client once its
  // echoes cannot be written (bounded memory, no buffer taken from others) ...
  const echo::Fd greedy = echo::connect_tcp("127.0.0.1", server.port());
  echo::set_nonblocking(greedy.get());
  std::vector<char> sent(32'000'000);  // more than every socket buffer on the way holds
  for (std::size_t i = 0; i < sent.size(); ++i) sent[i] = static_cast<char>(i * 7 + i / 251);
  std::size_t written = 0;
  for (int stuck = 0; written < sent.size() && stuck < 50;) {
    const ssize_t w =
        ::send(greedy.get(), sent.data() + written, sent.size() - written, MSG_NOSIGNAL);
    if (w > 0) {
      written += static_cast<std::size_t>(w);
      stuck = 0;
    } else {
      ASSERT_EQ(errno, EAGAIN);
      ++stuck;  // both directions' socket buffers are full: the server has paused this client
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  ASSERT_LT(written, sent.size()) << "the server kept reading from a client that never reads";
  // ... while every other client is served ...
  const auto r = echo::run_load(counted(server.port(), 16, 1000, 200, 1));
  EXPECT_EQ(r.requests, 3200u);
  // ... and once the client reads, everything it sent comes back in order.
  std::vector<char> got(written);
  std::size_t have = 0;
  while (have < written) {
    pollfd p{greedy.get(), POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 5000), 1) << "no echo for 5 s after " << have << " bytes";
    const ssize_t n = ::recv(greedy.get(), got.data() + have, written - have, 0);
    ASSERT_GT(n, 0);
    have += static_cast<std::size_t>(n);
  }
  EXPECT_TRUE(std::equal(got.begin(), got.end(), sent.begin()));
}

INSTANTIATE_TEST_SUITE_P(Engines, Servers, ::testing::Values("epoll", "epoll_busy", "io_uring"),
                         [](const auto& p) { return std::string(p.param); });
