// echoserver: the C++ reference echo servers (one thread, epoll or io_uring). See --help.
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>

#include "echo_server.hpp"

namespace {

constexpr std::string_view kHelp =
    R"(usage: echoserver [--engine epoll|io_uring] [--protocol echo|http] [--busy-poll]
                  [--host ADDR] [--port PORT]

A single-threaded TCP echo server: the ceiling one core reaches on this machine.
Prints "listening on ADDR:PORT" once it accepts connections (--port 0, the
default, picks a free port), serves until SIGINT or SIGTERM, then exits 0.

  --engine epoll|io_uring   readiness (epoll) or completion (io_uring) based (default epoll)
  --protocol echo|http      echo (default), or HTTP/1.1 keep-alive: "GET /SIZE" is answered
                            with status 200 and SIZE body bytes 'a' + i % 26, the workload of
                            echoload --mode http (epoll engine only)
  --busy-poll               while a connection is open, never sleep in epoll_wait (timeout
                            0): the thread spins on its core (idle, it sleeps); shows what waking a sleeping server costs under
                            latency-bound (ping-pong) load (epoll engine, echo protocol)
  --host ADDR               name or IPv4/IPv6 address to listen on (default 127.0.0.1)
  --port PORT               TCP port (default 0: any free port)
)";

echo::EchoServer* g_server = nullptr;

extern "C" void on_signal(int) {
  if (g_server != nullptr) g_server->stop();
}

[[noreturn]] void usage_error(const std::string& msg) {
  std::cerr << "echoserver: " << msg << "\n(try echoserver --help)\n";
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string engine = "epoll", protocol = "echo", host = "127.0.0.1";
  long port = 0;
  bool busy_poll = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage_error(std::string(a) + " needs a value");
      return argv[++i];
    };
    if (a == "-h" || a == "--help") {
      std::cout << kHelp;
      return 0;
    } else if (a == "--engine") {
      engine = value();
    } else if (a == "--protocol") {
      protocol = value();
    } else if (a == "--busy-poll") {
      busy_poll = true;
    } else if (a == "--host") {
      host = value();
    } else if (a == "--port") {
      const std::string v = value();
      char* end = nullptr;
      port = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || port < 0 || port > 65535) {
        usage_error("--port must be 0..65535, not '" + v + "'");
      }
    } else {
      usage_error("unknown option '" + std::string(a) + "'");
    }
  }
  if (engine != "epoll" && engine != "io_uring") {
    usage_error("--engine must be epoll or io_uring, not '" + engine + "'");
  }
  if (protocol != "echo" && protocol != "http") {
    usage_error("--protocol must be echo or http, not '" + protocol + "'");
  }
  if (protocol == "http" && engine != "epoll") usage_error("--protocol http needs --engine epoll");
  if (busy_poll && (engine != "epoll" || protocol != "echo")) {
    usage_error("--busy-poll needs --engine epoll and --protocol echo");
  }
  std::signal(SIGPIPE, SIG_IGN);
  try {
    const auto p = static_cast<std::uint16_t>(port);
    std::unique_ptr<echo::EchoServer> server =
        protocol == "http"  ? echo::make_epoll_http_server(host, p)
        : engine == "epoll" ? echo::make_epoll_server(host, p, busy_poll)
                            : echo::make_uring_server(host, p);
    g_server = server.get();
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    std::cout << "listening on " << host << ":" << server->port() << " (" << engine
              << (protocol == "http" ? ", http" : "") << (busy_poll ? ", busy polling" : "") << ")"
              << std::endl;
    server->run();
    g_server = nullptr;
  } catch (const std::exception& e) {
    std::cerr << "echoserver: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
