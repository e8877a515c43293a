#include "echo_server.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

namespace echo {

EchoServer::EchoServer(const std::string& host, std::uint16_t port)
    : listener_(listen_tcp(host, port)), stop_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (!stop_fd_.valid()) throw_sys("eventfd");
  port_ = local_port(listener_.get());
}

void EchoServer::stop() noexcept {
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(stop_fd_.get(), &one, sizeof one);
}

}  // namespace echo
