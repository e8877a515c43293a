#include <liburing.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <unordered_map>
#include <vector>

#include "echo_server.hpp"

namespace echo {
namespace {

constexpr std::size_t kBuf = 64 * 1024;
constexpr unsigned kEntries = 1024;

// Completion tags: what a finished operation was for.
enum class Op : std::uint8_t { Accept, Stop, Recv, Send };

struct Conn {
  Fd fd;
  Op op = Op::Recv;  // the one operation this connection has in flight
  std::unique_ptr<char[]> buf{new char[kBuf]};
  std::size_t len = 0, off = 0;  // echo in progress: buf[off, len)
};

// user_data: small tags for the listener and stop fd, a Conn* otherwise.
constexpr std::uint64_t kAcceptTag = 1, kStopTag = 2;

class UringServer final : public EchoServer {
 public:
  UringServer(const std::string& host, std::uint16_t port) : EchoServer(host, port) {
    if (const int rc = ::io_uring_queue_init(kEntries, &ring_, 0); rc < 0) {
      throw std::runtime_error(sys_error("io_uring_queue_init (is io_uring disabled?)", -rc));
    }
  }
  ~UringServer() override { ::io_uring_queue_exit(&ring_); }
  UringServer(const UringServer&) = delete;
  UringServer& operator=(const UringServer&) = delete;

  void run() override {
    arm_accept();
    io_uring_sqe* s = sqe();
    ::io_uring_prep_read(s, stop_fd_.get(), &stop_value_, sizeof stop_value_, 0);
    ::io_uring_sqe_set_data64(s, kStopTag);
    for (;;) {
      const int rc = ::io_uring_submit_and_wait(&ring_, 1);
      if (rc < 0 && rc != -EINTR) throw std::runtime_error(sys_error("io_uring_submit", -rc));
      io_uring_cqe* cqe = nullptr;
      unsigned head = 0, seen = 0;
      bool stopping = false;
      io_uring_for_each_cqe(&ring_, head, cqe) {
        ++seen;
        const std::uint64_t tag = ::io_uring_cqe_get_data64(cqe);
        if (tag == kStopTag) {
          stopping = true;
        } else if (tag == kAcceptTag) {
          on_accept(cqe->res);
        } else {
          on_io(reinterpret_cast<Conn*>(tag), cqe->res);
        }
      }
      ::io_uring_cq_advance(&ring_, seen);
      if (stopping) return;
    }
  }

 private:
  io_uring_sqe* sqe() {
    io_uring_sqe* s = ::io_uring_get_sqe(&ring_);
    if (s == nullptr) {
      ::io_uring_submit(&ring_);
      s = ::io_uring_get_sqe(&ring_);
      if (s == nullptr) throw std::runtime_error("io_uring submission queue full");
    }
    return s;
  }

  void arm_accept() {
    io_uring_sqe* s = sqe();
    ::io_uring_prep_accept(s, listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
    ::io_uring_sqe_set_data64(s, kAcceptTag);
  }

  void recv(Conn& c) {
    c.op = Op::Recv;
    io_uring_sqe* s = sqe();
    ::io_uring_prep_recv(s, c.fd.get(), c.buf.get(), kBuf, 0);
    ::io_uring_sqe_set_data(s, &c);
  }

  void send(Conn& c) {
    c.op = Op::Send;
    io_uring_sqe* s = sqe();
    ::io_uring_prep_send(s, c.fd.get(), c.buf.get() + c.off, c.len - c.off, MSG_NOSIGNAL);
    ::io_uring_sqe_set_data(s, &c);
  }

  void on_accept(int res) {
    if (res >= 0) {
      auto c = std::make_unique<Conn>();
      c->fd.reset(res);
      set_nodelay(res);
      Conn& ref = *c;
      conns_.emplace(&ref, std::move(c));
      ++accepted_;
      recv(ref);
    }
    arm_accept();  // transient errors (EMFILE, ECONNABORTED): keep accepting
  }

  void on_io(Conn* c, int res) {
    if (res <= 0) {  // EOF, reset or error: the connection is done
      conns_.erase(c);
      return;
    }
    if (c->op == Op::Recv) {
      c->len = static_cast<std::size_t>(res);
      c->off = 0;
      send(*c);
    } else {
      c->off += static_cast<std::size_t>(res);
      if (c->off < c->len) {
        send(*c);  // short send: the rest
      } else {
        recv(*c);
      }
    }
  }

  io_uring ring_{};
  std::uint64_t stop_value_ = 0;
  std::unordered_map<Conn*, std::unique_ptr<Conn>> conns_;
};

}  // namespace

std::unique_ptr<EchoServer> make_uring_server(const std::string& host, std::uint16_t port) {
  return std::make_unique<UringServer>(host, port);
}

}  // namespace echo
