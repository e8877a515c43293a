// The HTTP/1.1 workload: the response reader on its own, echoload --mode http against the
// C++ HTTP server, and against servers that answer wrongly.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <vector>

#include "echo_server.hpp"
#include "http.hpp"
#include "loadgen.hpp"
#include "test_support.hpp"

using echo::LoadConfig;
using echo::LoadError;
using echo::testing::ScriptedServer;
using echo::testing::ServerThread;

namespace {

std::vector<unsigned char> body(std::size_t n) {
  std::vector<unsigned char> b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = echo::http::body_byte(i);
  return b;
}

std::string response(std::size_t n) {
  std::string out;
  echo::http::append_response(out, n);
  return out;
}

// Feeds `stream` to a reader in pieces of `step` bytes; returns the responses completed.
std::uint64_t feed(const std::string& stream, std::size_t size, std::size_t step) {
  const auto expected = body(size);
  echo::http::ResponseReader reader(expected.data(), size);
  std::uint64_t done = 0;
  for (std::size_t at = 0; at < stream.size(); at += step) {
    const std::size_t n = std::min(step, stream.size() - at);
    done += reader.feed(reinterpret_cast<const unsigned char*>(stream.data() + at), n);
  }
  EXPECT_TRUE(reader.idle());
  return done;
}

// The message of the http::Error that reading `stream` ends with ("" if none).
std::string error_reading(const std::string& stream, std::size_t size, bool* wrong_body = nullptr) {
  try {
    feed(stream, size, stream.size());
  } catch (const echo::http::Error& e) {
    if (wrong_body) *wrong_body = e.wrong_body();
    return e.what();
  }
  return "";
}

// echoload --mode http, on each I/O backend.
class Http : public echo::testing::BackendTest {
 protected:
  [[nodiscard]] LoadConfig http_load(std::uint16_t port, int conns, std::size_t size,
                                     std::uint64_t n, int depth) const {
    LoadConfig cfg = config();
    cfg.port = port;
    cfg.connections = conns;
    cfg.size = size;
    cfg.requests = n;
    cfg.depth = depth;
    cfg.protocol = echo::Protocol::Http;
    return cfg;
  }
};
ECHO_ON_EVERY_BACKEND(Http);

// A server answering every request with `reply` (read one request head at a time); with
// `wrong`, it counts the requests whose head does not start with `line`.
auto replying(std::string reply, std::string line = "", std::atomic<int>* wrong = nullptr) {
  return [reply, line, wrong](int fd) {
    std::string in;
    std::array<char, 4096> buf{};
    for (;;) {
      const ssize_t r = ::read(fd, buf.data(), buf.size());
      if (r <= 0) return;
      in.append(buf.data(), static_cast<std::size_t>(r));
      for (std::size_t end; (end = in.find("\r\n\r\n")) != std::string::npos;) {
        if (wrong != nullptr && in.compare(0, line.size(), line) != 0) ++*wrong;
        in.erase(0, end + 4);
        if (!echo::testing::write_all(fd, reply.data(), reply.size())) return;
      }
    }
  };
}

}  // namespace

TEST(HttpFormat, BodyIsTheAlphabetRepeated) {
  EXPECT_EQ(response(30),
            "HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\nabcdefghijklmnopqrstuvwxyzabcd");
  EXPECT_EQ(echo::http::request(1000, "localhost:80"),
            "GET /1000 HTTP/1.1\r\nHost: localhost:80\r\n\r\n");
}

TEST(HttpFormat, ReaderReassemblesResponsesSplitAnywhere) {
  std::string stream;
  for (int i = 0; i < 3; ++i) stream += response(5000);
  for (const std::size_t step : {1u, 2u, 3u, 7u, 38u, 39u, 40u, 4096u, 100000u}) {
    EXPECT_EQ(feed(stream, 5000, step), 3u) << "step " << step;
  }
}

TEST(HttpFormat, ReaderAcceptsOtherHeadersAndCase) {
  const std::string head =
      "HTTP/1.1 200 OK\r\nServer: x\r\ncontent-LENGTH:  3 \r\nConnection: keep-alive\r\n\r\nabc";
  EXPECT_EQ(feed(head, 3, head.size()), 1u);
}

TEST(HttpFormat, ReaderRejectsWhatIsNotTheProtocol) {
  const std::string ok_body = "abc";
  EXPECT_NE(error_reading("HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nabc", 3)
                .find("expected 200"),
            std::string::npos);
  EXPECT_NE(error_reading("HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nabc", 3).find("HTTP/1.1"),
            std::string::npos);
  EXPECT_NE(error_reading("HTTP/1.1 200 OK\r\n\r\nabc", 3).find("without a Content-Length"),
            std::string::npos);
  EXPECT_NE(error_reading("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcd", 3)
                .find("Content-Length 4, expected 3"),
            std::string::npos);
  EXPECT_NE(error_reading("HTTP/1.1 200 OK\r\nContent-Length: -3\r\n\r\n", 3).find("bad Content"),
            std::string::npos);
  EXPECT_NE(error_reading("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc", 3)
                .find("Transfer-Encoding"),
            std::string::npos);
  EXPECT_NE(error_reading("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: Close\r\n\r\nabc", 3)
                .find("Connection: close"),
            std::string::npos);
  EXPECT_NE(error_reading("HTTP/1.1 200 OK\r\nContent-Length 3\r\n\r\nabc", 3).find("malformed"),
            std::string::npos);
  EXPECT_NE(error_reading(std::string(9000, 'x'), 3).find("longer than 8192"), std::string::npos);
  bool wrong_body = false;
  EXPECT_NE(error_reading("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabd", 3, &wrong_body)
                .find("body byte 2 is 0x64, expected 0x63"),
            std::string::npos);
  EXPECT_TRUE(wrong_body);
}

TEST(HttpFormat, ServerSideParsesPipelinedRequests) {
  const std::string two = "GET /5 HTTP/1.1\r\nHost: a\r\n\r\nGET /0 HTTP/1.1\r\n\r\n";
  auto p = echo::http::parse_request(two);
  ASSERT_EQ(p.status, echo::http::Parsed::Status::Ok);
  EXPECT_EQ(p.size, 5u);
  p = echo::http::parse_request(std::string_view(two).substr(p.consumed));
  ASSERT_EQ(p.status, echo::http::Parsed::Status::Ok);
  EXPECT_EQ(p.size, 0u);
  EXPECT_EQ(echo::http::parse_request("GET /5 HTTP/1.1\r\n").status,
            echo::http::Parsed::Status::Incomplete);
  EXPECT_EQ(echo::http::parse_request("POST /5 HTTP/1.1\r\n\r\n").status,
            echo::http::Parsed::Status::Bad);
  EXPECT_EQ(echo::http::parse_request("GET /x HTTP/1.1\r\n\r\n").status,
            echo::http::Parsed::Status::Bad);
  EXPECT_EQ(echo::http::parse_request("GET /99999999999 HTTP/1.1\r\n\r\n").status,
            echo::http::Parsed::Status::Bad);
}

TEST_P(Http, LoadAgainstTheCppServerIsVerified) {
  ServerThread server(echo::make_epoll_http_server("127.0.0.1", 0));
  const auto r = echo::run_load(http_load(server.port(), 3, 1000, 500, 4));
  EXPECT_EQ(r.requests, 1500u);
  EXPECT_EQ(r.bytes, 1'500'000u);
  // Bodies larger than a read, pipelined.
  const auto big = echo::run_load(http_load(server.port(), 2, 300'000, 20, 3));
  EXPECT_EQ(big.requests, 40u);
  const std::string json = echo::to_json(http_load(server.port(), 2, 300'000, 20, 3), big);
  EXPECT_NE(json.find("\"protocol\":\"http\""), std::string::npos) << json;
}

TEST(HttpFormat, CppServerAnswersABadRequestWith400AndCloses) {
  ServerThread server(echo::make_epoll_http_server("127.0.0.1", 0));
  const echo::Fd c = echo::connect_tcp("127.0.0.1", server.port());
  const std::string bad = "BREW /coffee HTTP/1.1\r\n\r\n";
  ASSERT_TRUE(echo::testing::write_all(c.get(), bad.data(), bad.size()));
  std::string got;
  std::array<char, 256> buf{};
  for (ssize_t r; (r = ::read(c.get(), buf.data(), buf.size())) > 0;) {
    got.append(buf.data(), static_cast<std::size_t>(r));
  }
  EXPECT_EQ(got.rfind("HTTP/1.1 400 ", 0), 0u) << got;
}

TEST_P(Http, WrongBodyFailsTheRun) {
  std::string reply = response(100);
  reply[reply.size() - 1] = '!';  // the last byte: where an off-by-one would hide
  ScriptedServer server(1, replying(reply));
  try {
    echo::run_load(http_load(server.port(), 1, 100, 10, 1));
    ADD_FAILURE() << "a wrong body passed";
  } catch (const LoadError& e) {
    EXPECT_EQ(e.kind(), LoadError::Kind::Mismatch) << e.what();
    EXPECT_NE(std::string(e.what()).find("connection 0, response 0: body byte 99"),
              std::string::npos)
        << e.what();
  }
}

TEST_P(Http, MalformedResponseFailsTheRun) {
  ScriptedServer server(
      1, replying("HTTP/1.1 500 Oops\r\nContent-Length: 100\r\n\r\n" + std::string(100, 'a')));
  try {
    echo::run_load(http_load(server.port(), 1, 100, 10, 1));
    ADD_FAILURE() << "a 500 passed";
  } catch (const LoadError& e) {
    EXPECT_EQ(e.kind(), LoadError::Kind::Protocol) << e.what();
    EXPECT_NE(std::string(e.what()).find("expected 200"), std::string::npos) << e.what();
  }
}

TEST_P(Http, ExtraResponsesFailTheRun) {
  ScriptedServer server(1, replying(response(10) + response(10)));
  try {
    echo::run_load(http_load(server.port(), 1, 10, 5, 1));
    ADD_FAILURE() << "two responses to one request passed";
  } catch (const LoadError& e) {
    EXPECT_EQ(e.kind(), LoadError::Kind::Protocol) << e.what();
    EXPECT_NE(std::string(e.what()).find("more responses"), std::string::npos) << e.what();
  }
}

namespace {

// A server that answers every request with `page` as a 200, counting requests whose line is
// not "GET <target> HTTP/1.1".
auto page_server(const std::string& target, const std::string& page, std::atomic<int>* wrong) {
  return replying(
      "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\n"
      "content-length: " +
          std::to_string(page.size()) + "\r\n\r\n" + page,
      "GET " + target + " HTTP/1.1\r\n", wrong);
}

}  // namespace

TEST_P(Http, PathAndBodyFileDriveAnyServersPage) {
  const std::string page = "<!doctype html>\n<table><tr><td>1 &amp; 2</td></tr></table>";
  std::atomic<int> wrong{0};
  ScriptedServer server(2, page_server("/report?rows=5", page, &wrong));
  LoadConfig cfg = http_load(server.port(), 2, page.size(), 50, 3);
  cfg.path = "/report?rows=5";
  cfg.body.assign(page.begin(), page.end());
  const auto r = echo::run_load(cfg);
  EXPECT_EQ(r.requests, 100u);
  EXPECT_EQ(r.bytes, 100u * page.size());
  EXPECT_EQ(wrong.load(), 0);
}

TEST_P(Http, ABodyOtherThanTheFileFailsTheRun) {
  const std::string page = "<!doctype html>\n<p>the page</p>";
  std::atomic<int> wrong{0};
  ScriptedServer server(1, page_server("/p", page, &wrong));
  LoadConfig cfg = http_load(server.port(), 1, page.size(), 10, 1);
  cfg.path = "/p";
  cfg.body.assign(page.begin(), page.end());
  cfg.body[cfg.body.size() - 2] = 'X';  // the file says X where the server sends '>'
  try {
    echo::run_load(cfg);
    ADD_FAILURE() << "a different page passed";
  } catch (const LoadError& e) {
    EXPECT_EQ(e.kind(), LoadError::Kind::Mismatch) << e.what();
  }
}
