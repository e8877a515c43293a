#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "cli.hpp"

using echo::parse_args;
using echo::UsageError;

namespace {

echo::Options parse(std::vector<std::string_view> args) {
  return parse_args(args);
}

std::string error_of(std::vector<std::string_view> args) {
  try {
    parse_args(args);
  } catch (const UsageError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no UsageError";
  return "";
}

}  // namespace

TEST(EcholoadCli, ParsesEveryOption) {
  const auto o =
      parse({"--host", "127.0.0.2", "--port", "7000", "-c", "8", "-t", "2", "-s", "100000", "-d",
             "4", "--warmup", "0.5", "--duration", "2.5", "--rate", "1000", "--json"});
  EXPECT_EQ(o.load.host, "127.0.0.2");
  EXPECT_EQ(o.load.port, 7000);
  EXPECT_EQ(o.load.connections, 8);
  EXPECT_EQ(o.load.threads, 2);
  EXPECT_EQ(o.load.size, 100000u);
  EXPECT_EQ(o.load.depth, 4);
  EXPECT_DOUBLE_EQ(o.load.warmup_s, 0.5);
  EXPECT_DOUBLE_EQ(o.load.duration_s, 2.5);
  EXPECT_DOUBLE_EQ(o.load.rate, 1000);
  EXPECT_TRUE(o.json);
  EXPECT_FALSE(o.help);
}

TEST(EcholoadCli, HelpWinsOverEverythingAfterIt) {
  EXPECT_TRUE(parse({"--help", "--bogus"}).help);
  EXPECT_TRUE(parse({"-h"}).help);
}

TEST(EcholoadCli, BadInputNamesTheOption) {
  EXPECT_EQ(error_of({"--port", "0"}), "--port must be 1..65535");
  EXPECT_EQ(error_of({"--port", "65536"}), "--port must be 1..65535");
  EXPECT_EQ(error_of({"--port", "80x"}), "--port: not an integer: 80x");
  EXPECT_EQ(error_of({"--port", ""}), "--port: not an integer: ");
  EXPECT_EQ(error_of({"--port", "99999999999999999999"}),
            "--port: not an integer: 99999999999999999999");
  EXPECT_EQ(error_of({"--port"}), "--port needs a value");
  EXPECT_EQ(error_of({"--port", "1", "--duration", "soon"}), "--duration: not a number: soon");
  EXPECT_EQ(error_of({"--port", "1", "--bogus"}), "unknown option '--bogus'");
  EXPECT_EQ(error_of({"--port", "1", "-c", "2", "-t", "3"}),
            "--threads must be between 1 and the number of connections");
  EXPECT_NE(error_of({"--port", "1", "--duration", "nan"}).find("--duration"), std::string::npos);
  EXPECT_NE(error_of({"--port", "1", "--rate", "-1"}).find("--rate"), std::string::npos);
  EXPECT_EQ(error_of({}), "--port is required (the echo server's TCP port, 1-65535)");
}

TEST(EcholoadCli, ParsesTheFailureAndProtocolOptions) {
  const auto o = parse({"--port", "1", "--host", "::1", "--mode", "http", "--connect-timeout",
                        "0.5", "--stall-timeout", "2"});
  EXPECT_EQ(o.load.host, "::1");
  EXPECT_EQ(o.load.protocol, echo::Protocol::Http);
  EXPECT_DOUBLE_EQ(o.load.connect_timeout_s, 0.5);
  EXPECT_DOUBLE_EQ(o.load.stall_timeout_s, 2.0);
  const auto d = parse({"--port", "1"});
  EXPECT_EQ(d.load.protocol, echo::Protocol::Echo);
  EXPECT_DOUBLE_EQ(d.load.connect_timeout_s, 5.0);
  EXPECT_DOUBLE_EQ(d.load.stall_timeout_s, 3.0);
  EXPECT_EQ(error_of({"--port", "1", "--mode", "ftp"}), "--mode must be echo or http, not 'ftp'");
  EXPECT_EQ(error_of({"--port", "1", "--stall-timeout", "0"}),
            "--stall-timeout must be 0.001..86400 seconds");
  EXPECT_EQ(error_of({"--port", "1", "--connect-timeout", "nan"}),
            "--connect-timeout must be 0.001..3600 seconds");
  EXPECT_EQ(error_of({"--port", "1", "--host", ""}), "--host must not be empty");
  EXPECT_EQ(parse({"--port", "1", "--server-pid", "42"}).load.server_pid, 42);
  EXPECT_EQ(d.load.io, echo::IoBackend::Uring);
  EXPECT_EQ(parse({"--port", "1", "--io", "epoll"}).load.io, echo::IoBackend::Epoll);
  EXPECT_EQ(parse({"--port", "1", "--io", "uring"}).load.io, echo::IoBackend::Uring);
  EXPECT_EQ(error_of({"--port", "1", "--io", "poll"}), "--io must be uring or epoll, not 'poll'");
  EXPECT_EQ(error_of({"--port", "1", "--server-pid", "0"}), "--server-pid: not a process id");
}

TEST(EcholoadCli, PathAndBodyFileAskForAnyServersPage) {
  const std::string file = ::testing::TempDir() + "echoload_page.html";
  {
    std::ofstream out(file, std::ios::binary);
    out << "<!doctype html>\n<p>page</p>";
  }
  const auto o =
      parse({"--port", "1", "--mode", "http", "--path", "/report?rows=5", "--body-file", file});
  EXPECT_EQ(o.load.path, "/report?rows=5");
  EXPECT_EQ(std::string(o.load.body.begin(), o.load.body.end()), "<!doctype html>\n<p>page</p>");
  EXPECT_EQ(o.load.size, o.load.body.size());

  EXPECT_EQ(error_of({"--port", "1", "--path", "/x", "--body-file", file}),
            "--path and --body-file need --mode http");
  EXPECT_EQ(error_of({"--port", "1", "--mode", "http", "--path", "/x"}),
            "--path needs --body-file (the page every response must be)");
  EXPECT_EQ(error_of({"--port", "1", "--mode", "http", "--body-file", file}),
            "--body-file needs --path");
  EXPECT_EQ(error_of({"--port", "1", "--mode", "http", "--path", "x", "--body-file", file}),
            "--path must start with '/'");
  EXPECT_EQ(error_of({"--port", "1", "--mode", "http", "--path", "/a b", "--body-file", file}),
            "--path may hold only printable ASCII without spaces");
  EXPECT_EQ(
      error_of({"--port", "1", "--mode", "http", "--path", "/x", "--body-file", file, "-s", "3"}),
      "--size and --body-file: the file gives the size");
  const std::string missing = ::testing::TempDir() + "no_such_page.html";
  EXPECT_EQ(error_of({"--port", "1", "--mode", "http", "--path", "/x", "--body-file", missing}),
            "--body-file: '" + missing + "' is not a readable file");
  // A directory: reading it threw std::ios_failure out of parse_args (found by
  // fuzz_echoload_args with "--body-file /").
  EXPECT_EQ(error_of({"--port", "1", "--mode", "http", "--path", "/x", "--body-file", "/"}),
            "--body-file: '/' is not a readable file");
  const std::string empty = ::testing::TempDir() + "echoload_empty.html";
  std::ofstream{empty, std::ios::binary}.flush();
  EXPECT_EQ(error_of({"--port", "1", "--mode", "http", "--path", "/x", "--body-file", empty}),
            "--body-file: '" + empty + "' must hold 1 byte .. 64 MiB");
}
