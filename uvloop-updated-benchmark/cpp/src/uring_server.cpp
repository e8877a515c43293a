// The io_uring echo server: completions instead of readiness, and one system call per wake-up.
//
// One multishot accept; per connection one multishot receive that the kernel fills into that
// connection's own provided buffers (a ringloop::BufferRing of kConnBufs: no re-arming per
// message), and at most one send in flight, straight from the buffer the bytes arrived in.
// Every send queued while handling a batch of completions goes to the kernel in the same
// io_uring_enter that waits for the next batch.
//
// Back-pressure comes from the buffers being per connection: a peer that does not read its
// echoes leaves them held, its receive ends with ENOBUFS once all are, and it is armed again
// only when one comes back. (With one shared pool, a multishot receive drains a fast sender
// into every free buffer before a cancel can reach it: a test saw 64 MB taken by one client.)
#include <liburing.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <unordered_map>
#include <utility>
#include <vector>

#include "echo_server.hpp"
#include "ring.hpp"  // ringloop-event-loop/src: the RAII ring and provided-buffer ring

namespace echo {
namespace {

constexpr unsigned kEntries = 4096;
constexpr unsigned kBufSize = 64 * 1024;  // the epoll server reads 64 KiB at a time too
constexpr unsigned kConnBufs = 4;         // per connection (a power of two): 256 KiB at most

// user_data: a Conn* with the operation in its low bit, or one of two small tags.
enum class Op : std::uint64_t { Recv = 0, Send = 1 };
constexpr std::uint64_t kOpMask = 1;
constexpr std::uint64_t kAcceptTag = 2, kStopTag = 4;  // no Conn lives at address 2 or 4

struct Chunk {  // received bytes waiting to be echoed: buffer `buf`, bytes [off, len)
  std::uint16_t buf;
  std::uint32_t len, off;
};

struct Conn {
  Conn(ringloop::Ring& ring, Fd socket, std::uint16_t group)
      : fd(std::move(socket)), bufs(ring, kConnBufs, kBufSize, group) {}
  Fd fd;
  ringloop::BufferRing bufs;             // its provided buffers (buffer group `bufs.group()`)
  std::array<Chunk, kConnBufs> queue{};  // echoes in arrival order, queue[head] being sent
  unsigned head = 0, held = 0;
  bool receiving = false;  // its multishot receive is armed
  bool sending = false;
  bool done = false;  // EOF or an error: finish the echoes (EOF) or drop them (error), close
};

class UringServer final : public EchoServer {
 public:
  // A kernel that refuses io_uring or provided buffers throws std::system_error (a
  // std::runtime_error, as make_uring_server promises).
  UringServer(const std::string& host, std::uint16_t port)
      : EchoServer(host, port), ring_(kEntries) {}

  ~UringServer() override {
    // Nothing may complete into a connection's buffers once they are unmapped: cancel every
    // request and let the cancellations finish before the connections go.
    ring_.cancel_all();
    (void)ring_.submit_and_wait(0);
    ring_.drain([](const io_uring_cqe&) {});
    conns_.clear();
  }
  UringServer(const UringServer&) = delete;
  UringServer& operator=(const UringServer&) = delete;

  void run() override {
    arm_accept();
    io_uring_sqe* s = ring_.sqe();
    ::io_uring_prep_read(s, stop_fd_.get(), &stop_value_, sizeof stop_value_, 0);
    ::io_uring_sqe_set_data64(s, kStopTag);
    bool stopping = false;
    while (!stopping) {
      if (const int rc = ring_.submit_and_wait(-1); rc < 0 && rc != -EINTR) {
        throw std::runtime_error(sys_error("io_uring_enter", -rc));
      }
      ring_.drain([&](const io_uring_cqe& cqe) {
        const std::uint64_t tag = cqe.user_data;
        if (tag == kStopTag) {
          stopping = true;
        } else if (tag == kAcceptTag) {
          on_accept(cqe);
        } else {
          Conn& c = *reinterpret_cast<Conn*>(tag & ~kOpMask);
          if (static_cast<Op>(tag & kOpMask) == Op::Recv) {
            on_recv(c, cqe);
          } else {
            on_send(c, cqe.res);
          }
          settle(c);
        }
      });
    }
  }

 private:
  static std::uint64_t tag(Conn& c, Op op) {
    return reinterpret_cast<std::uint64_t>(&c) | static_cast<std::uint64_t>(op);
  }

  void arm_accept() {
    io_uring_sqe* s = ring_.sqe();
    ::io_uring_prep_multishot_accept(s, listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
    ::io_uring_sqe_set_data64(s, kAcceptTag);
  }

  void on_accept(const io_uring_cqe& cqe) {
    // Ended (an error such as EMFILE, or the kernel stopped it): keep accepting.
    if (!(cqe.flags & IORING_CQE_F_MORE)) arm_accept();
    if (cqe.res < 0) return;
    Fd fd(cqe.res);
    set_nodelay(fd.get());
    std::uint16_t group = next_group_;
    if (!free_groups_.empty()) {
      group = free_groups_.back();
      free_groups_.pop_back();
    } else if (next_group_ == UINT16_MAX) {
      return;  // 65,535 connections open at once: this one is closed
    } else {
      ++next_group_;
    }
    auto c = std::make_unique<Conn>(ring_, std::move(fd), group);
    Conn& ref = *c;
    conns_.emplace(&ref, std::move(c));
    ++accepted_;
    arm_recv(ref);
  }

  void arm_recv(Conn& c) {
    io_uring_sqe* s = ring_.sqe();
    ::io_uring_prep_recv_multishot(s, c.fd.get(), nullptr, 0, 0);
    s->flags |= IOSQE_BUFFER_SELECT;
    s->buf_group = c.bufs.group();
    ::io_uring_sqe_set_data64(s, tag(c, Op::Recv));
    c.receiving = true;
  }

  void on_recv(Conn& c, const io_uring_cqe& cqe) {
    if (!(cqe.flags & IORING_CQE_F_MORE)) c.receiving = false;
    if (cqe.res > 0) {
      const auto buf = static_cast<std::uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
      if (c.done) {  // an error already dropped this connection's echoes
        c.bufs.give_back(buf);
        return;
      }
      c.queue[(c.head + c.held) % kConnBufs] = {buf, static_cast<std::uint32_t>(cqe.res), 0};
      ++c.held;
      if (!c.sending) send_head(c);
    } else if (cqe.res != -ENOBUFS) {  // ENOBUFS: every buffer held; armed again in settle()
      // EOF (0): echo what is queued, then close; an error: close.
      c.done = true;
      if (cqe.res < 0) drop_queue(c);
    }
  }

  void send_head(Conn& c) {
    const Chunk& k = c.queue[c.head];
    io_uring_sqe* s = ring_.sqe();
    ::io_uring_prep_send(s, c.fd.get(), c.bufs.data(k.buf) + k.off, k.len - k.off, MSG_NOSIGNAL);
    ::io_uring_sqe_set_data64(s, tag(c, Op::Send));
    c.sending = true;
  }

  void on_send(Conn& c, int res) {
    c.sending = false;
    if (res < 0) {  // reset or closed by the peer
      c.done = true;
      drop_queue(c);
      if (c.receiving) ::shutdown(c.fd.get(), SHUT_RDWR);  // its receive ends with EOF
      return;
    }
    if (c.held == 0) return;  // dropped while this send was in flight
    Chunk& k = c.queue[c.head];
    k.off += static_cast<std::uint32_t>(res);
    if (k.off == k.len) {
      c.bufs.give_back(k.buf);
      c.head = (c.head + 1) % kConnBufs;
      --c.held;
    }
    if (c.held > 0) send_head(c);  // the rest of a short send, or the next echo
  }

  static void drop_queue(Conn& c) {
    for (; c.held > 0; --c.held, c.head = (c.head + 1) % kConnBufs) {
      c.bufs.give_back(c.queue[c.head].buf);
    }
  }

  // After every completion: receive again once a buffer is free, close a finished connection.
  void settle(Conn& c) {
    if (!c.done) {
      if (!c.receiving && c.held < kConnBufs) arm_recv(c);
      return;
    }
    if (c.sending || c.receiving) return;
    if (c.held > 0) {  // after EOF: the last echoes
      send_head(c);
      return;
    }
    free_groups_.push_back(c.bufs.group());
    conns_.erase(&c);  // unregisters its buffers, closes the socket
  }

  ringloop::Ring ring_;
  std::uint64_t stop_value_ = 0;
  std::uint16_t next_group_ = 0;
  std::vector<std::uint16_t> free_groups_;
  std::unordered_map<Conn*, std::unique_ptr<Conn>> conns_;
};

}  // namespace

std::unique_ptr<EchoServer> make_uring_server(const std::string& host, std::uint16_t port) {
  return std::make_unique<UringServer>(host, port);
}

}  // namespace echo
