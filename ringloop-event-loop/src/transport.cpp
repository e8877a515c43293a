#include "transport.hpp"

#include <structmember.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <deque>
#include <new>

namespace ringloop {

// asyncio's constants: write buffer limits (transports._FlowControlMixin) and the number of
// writes after a lost connection before it logs (constants.LOG_THRESHOLD_FOR_CONNLOST_WRITES).
constexpr std::size_t kDefaultHighWater = 64 * 1024;
constexpr int kLogThresholdForConnLostWrites = 5;
constexpr std::size_t kMaxIov = 64;  // buffers in one sendmsg

struct Conn {
  explicit Conn(TransportObject* owner, int socket_fd) : self(owner), fd(socket_fd) {
    recv_op.conn = this;
    recv_op.fd = fd;
    send_op.conn = this;
    send_op.fd = fd;
  }
  TransportObject* self;
  int fd;
  Op recv_op{Op::Kind::Recv};
  Op send_op{Op::Kind::Send};

  // Reading
  bool started = false;          // _start_reading ran (after connection_made)
  bool paused = false;           // pause_reading()
  bool recv_armed = false;       // the multishot recv is in flight
  bool recv_cancelling = false;  // ... and its cancellation was asked for
  bool eof_seen = false;
  std::deque<Ref> stash;  // bytes received while reading was paused, delivered on resume
  bool stash_eof = false;

  // Writing
  std::deque<Ref> queued;       // bytes written, not yet handed to the kernel
  std::deque<Ref> sending;      // bytes of the send in flight, in order
  std::size_t sent_offset = 0;  // of sending.front(), already sent
  std::array<iovec, kMaxIov> iov{};
  msghdr msg{};
  bool send_inflight = false;
  bool flush_queued = false;
  bool poll_first = false;  // the last send found the socket full
  bool eof_written = false;
  std::size_t buffer_size = 0;  // bytes queued or in flight
  std::size_t high_water = kDefaultHighWater, low_water = kDefaultHighWater / 4;
  bool protocol_paused = false;
  bool buffered = false;  // the protocol is an asyncio.BufferedProtocol

  // Closing
  bool closing = false;
  int conn_lost = 0;
  bool lost_pending = false;    // connection_lost is due once nothing is in flight
  bool lost_scheduled = false;  // ... and was scheduled
  Ref lost_exc;
};

namespace {

PyObject* g_buffered_protocol = nullptr;  // asyncio.BufferedProtocol
PyObject* g_logger = nullptr;             // asyncio.log.logger, imported when first needed

struct Names {
  PyObject *data_received, *get_buffer, *buffer_updated, *eof_received, *connection_lost,
      *pause_writing, *resume_writing, *call_exception_handler, *close, *detach,
      *call_connection_lost, *deliver_stash;
} names;

bool intern_names() {
  struct Entry {
    PyObject** slot;
    const char* text;
  };
  const Entry entries[] = {
      {&names.data_received, "data_received"},
      {&names.get_buffer, "get_buffer"},
      {&names.buffer_updated, "buffer_updated"},
      {&names.eof_received, "eof_received"},
      {&names.connection_lost, "connection_lost"},
      {&names.pause_writing, "pause_writing"},
      {&names.resume_writing, "resume_writing"},
      {&names.call_exception_handler, "call_exception_handler"},
      {&names.close, "close"},
      {&names.detach, "_detach"},
      {&names.call_connection_lost, "_call_connection_lost"},
      {&names.deliver_stash, "_deliver_stash"},
  };
  for (const Entry& e : entries) {
    *e.slot = PyUnicode_InternFromString(e.text);
    if (*e.slot == nullptr) return false;
  }
  return true;
}

TransportObject* as_transport(PyObject* o) {
  return reinterpret_cast<TransportObject*>(o);
}
PyObject* obj(TransportObject* t) {
  return reinterpret_cast<PyObject*>(t);
}
Core* core_of(const Conn& c) {
  return reinterpret_cast<LoopObject*>(c.self->loop)->core;  // null once the loop is closed
}

PyObject* call0(PyObject* target, PyObject* name) {
  return PyObject_CallMethodNoArgs(target, name);
}
PyObject* call1(PyObject* target, PyObject* name, PyObject* arg) {
  return PyObject_CallMethodOneArg(target, name, arg);
}

bool propagates() {
  return PyErr_ExceptionMatches(PyExc_SystemExit) ||
         PyErr_ExceptionMatches(PyExc_KeyboardInterrupt);
}

// loop.call_exception_handler({"message": ..., "exception": ..., "transport", "protocol"}).
void report(Conn& c, const char* message, PyObject* exc) {
  TransportObject* t = c.self;
  Ref context = Ref::steal(Py_BuildValue("{s:s,s:O,s:O,s:O}", "message", message, "exception", exc,
                                         "transport", obj(t), "protocol",
                                         t->protocol ? t->protocol : Py_None));
  if (!context) {
    PyErr_WriteUnraisable(obj(t));
    return;
  }
  Ref r = Ref::steal(call1(t->loop, names.call_exception_handler, context.get()));
  if (!r) PyErr_WriteUnraisable(t->loop);
}

void maybe_finish(Conn& c);
void force_close(Conn& c, PyObject* exc);
void close_transport(Conn& c);

// asyncio's _fatal_error: an OSError (a peer reset, a broken pipe) only closes the transport;
// anything else is reported to the loop's exception handler first.
void fatal_error(Conn& c, PyObject* exc, const char* message) {
  if (!PyErr_GivenExceptionMatches(exc, PyExc_OSError)) report(c, message, exc);
  force_close(c, exc);
}

// After a protocol callback: 0 when it returned or raised an ordinary exception (which closed
// the transport, as asyncio does); -1 for SystemExit and KeyboardInterrupt, left set.
int settle(Conn& c, bool ok, const char* message) {
  if (ok) return 0;
  if (propagates()) return -1;
  Ref exc = Ref::steal(fetch_exception());
  fatal_error(c, exc.get(), message);
  return 0;
}

Ref os_error(int err) {
  return Ref::steal(PyObject_CallFunction(PyExc_OSError, "is", err, std::strerror(err)));
}

// ---------------------------------------------------------------------------------------------
// Reading

bool is_reading(const Conn& c) {
  return !c.closing && !c.paused;
}

void start_recv(Core& core, Conn& c) {
  if (c.recv_armed || !c.started || !is_reading(c) || c.eof_seen) return;
  io_uring_sqe* s = core.sqe();
  io_uring_prep_recv_multishot(s, c.fd, nullptr, 0, 0);
  s->flags |= IOSQE_BUFFER_SELECT;
  s->buf_group = core.buffers().group();
  io_uring_sqe_set_data(s, &c.recv_op);
  Py_INCREF(c.self);  // the request's: released by its last completion
  core.op_started();
  c.recv_armed = true;
  c.recv_cancelling = false;
}

void stop_recv(Core* core, Conn& c) {
  if (!c.recv_armed || c.recv_cancelling || core == nullptr) return;
  core->cancel(&c.recv_op);
  c.recv_cancelling = true;
}

// Hands n received bytes to the protocol; what a paused (buffered) protocol did not take is
// stashed for resume_reading.
int deliver(Conn& c, const char* p, std::size_t n) {
  TransportObject* t = c.self;
  if (!c.buffered) {
    Ref data = Ref::steal(PyBytes_FromStringAndSize(p, static_cast<Py_ssize_t>(n)));
    if (!data) return settle(c, false, "Fatal error: protocol.data_received() call failed.");
    Ref protocol = Ref::borrow(t->protocol);
    Ref r = Ref::steal(call1(protocol.get(), names.data_received, data.get()));
    return settle(c, static_cast<bool>(r), "Fatal error: protocol.data_received() call failed.");
  }
  static PyObject* const minus_one = PyLong_FromLong(-1);
  while (n > 0) {
    if (c.closing) return 0;
    if (c.paused) {
      Ref rest = Ref::steal(PyBytes_FromStringAndSize(p, static_cast<Py_ssize_t>(n)));
      if (!rest) return settle(c, false, "Fatal error: protocol.get_buffer() call failed.");
      c.stash.push_front(std::move(rest));
      return 0;
    }
    Ref protocol = Ref::borrow(t->protocol);
    Ref buf = Ref::steal(call1(protocol.get(), names.get_buffer, minus_one));
    if (!buf) return settle(c, false, "Fatal error: protocol.get_buffer() call failed.");
    Py_buffer view;
    if (PyObject_GetBuffer(buf.get(), &view, PyBUF_WRITABLE) < 0) {
      return settle(c, false, "Fatal error: protocol.get_buffer() call failed.");
    }
    const std::size_t room = static_cast<std::size_t>(view.len);
    const std::size_t k = std::min(room, n);
    if (k > 0) std::memcpy(view.buf, p, k);
    PyBuffer_Release(&view);
    if (k == 0) {
      PyErr_SetString(PyExc_RuntimeError, "get_buffer() returned an empty buffer");
      return settle(c, false, "Fatal error: protocol.get_buffer() call failed.");
    }
    Ref nbytes = Ref::steal(PyLong_FromSize_t(k));
    if (!nbytes) return -1;
    Ref r = Ref::steal(call1(protocol.get(), names.buffer_updated, nbytes.get()));
    if (settle(c, static_cast<bool>(r), "Fatal error: protocol.buffer_updated() call failed.") <
        0) {
      return -1;
    }
    if (!r) return 0;
    p += k;
    n -= k;
  }
  return 0;
}

int deliver_bytes(Conn& c, PyObject* bytes) {
  return deliver(c, PyBytes_AS_STRING(bytes), static_cast<std::size_t>(PyBytes_GET_SIZE(bytes)));
}

// The peer shut down its side: protocol.eof_received() decides whether the transport stays
// open for writing (asyncio's _read_ready__on_eof).
int on_eof(Conn& c) {
  c.eof_seen = true;
  Ref protocol = Ref::borrow(c.self->protocol);
  Ref keep_open = Ref::steal(call0(protocol.get(), names.eof_received));
  if (!keep_open) return settle(c, false, "Fatal error: protocol.eof_received() call failed.");
  const int yes = PyObject_IsTrue(keep_open.get());
  if (yes < 0) return settle(c, false, "Fatal error: protocol.eof_received() call failed.");
  if (!yes) close_transport(c);
  return 0;
}

// Schedules a call of one of the transport's own methods with `arg` on the loop.
bool schedule(Conn& c, PyObject* method_name, PyObject* arg) {
  Core* core = core_of(c);
  if (core == nullptr) return true;  // the loop is closed: nothing runs any more
  Ref method = Ref::steal(PyObject_GetAttr(obj(c.self), method_name));
  if (!method) return false;
  Ref args = Ref::steal(arg ? PyTuple_Pack(1, arg) : PyTuple_New(0));
  if (!args) return false;
  Ref h = Ref::steal(new_handle(c.self->loop, method.get(), args.get()));
  if (!h) return false;
  core->push_ready(h.get());
  return true;
}

// ---------------------------------------------------------------------------------------------
// Writing and flow control (asyncio's _FlowControlMixin)

// Tells the protocol to pause or resume writing; an ordinary exception goes to the loop's
// exception handler (as asyncio does), SystemExit and KeyboardInterrupt propagate (-1).
int notify_writing(Conn& c, PyObject* method, const char* failed) {
  Ref protocol = Ref::borrow(c.self->protocol);
  if (!protocol) return 0;
  Ref r = Ref::steal(call0(protocol.get(), method));
  if (r) return 0;
  if (propagates()) return -1;
  Ref exc = Ref::steal(fetch_exception());
  report(c, failed, exc.get());
  return 0;
}

int maybe_pause_protocol(Conn& c) {
  if (c.buffer_size <= c.high_water || c.protocol_paused) return 0;
  c.protocol_paused = true;
  return notify_writing(c, names.pause_writing, "protocol.pause_writing() failed");
}

int maybe_resume_protocol(Conn& c) {
  if (!c.protocol_paused || c.buffer_size > c.low_water) return 0;
  c.protocol_paused = false;
  return notify_writing(c, names.resume_writing, "protocol.resume_writing() failed");
}

void want_flush(Core& core, Conn& c) {
  if (c.flush_queued || c.send_inflight) return;  // a send's completion flushes the rest
  core.queue_flush(obj(c.self));
  c.flush_queued = true;
}

void drop_writes(Conn& c) {
  c.queued.clear();
  if (!c.send_inflight) {
    c.sending.clear();
    c.sent_offset = 0;
  }
  c.buffer_size = 0;
}

bool shutdown_write(Conn& c) {
  if (::shutdown(c.fd, SHUT_WR) < 0 && errno != ENOTCONN) {
    PyErr_SetFromErrno(PyExc_OSError);
    return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Closing

// connection_lost is scheduled as soon as the transport is lost, as asyncio does, even with a
// cancelled receive or send still in flight: each holds a reference to the transport (its Conn
// and the bytes being sent stay alive until the completion), a receive writes only into the
// loop's provided buffers, and the kernel keeps the socket's file open for them after close.
void maybe_finish(Conn& c) {
  if (!c.lost_pending || c.lost_scheduled) return;
  c.lost_scheduled = true;
  if (!schedule(c, names.call_connection_lost, c.lost_exc ? c.lost_exc.get() : Py_None)) {
    PyErr_WriteUnraisable(obj(c.self));
  }
}

void lose(Conn& c, PyObject* exc) {
  ++c.conn_lost;
  c.lost_exc = Ref::borrow(exc);
  c.lost_pending = true;
  maybe_finish(c);
}

void close_transport(Conn& c) {
  if (c.closing) return;
  c.closing = true;
  stop_recv(core_of(c), c);
  if (c.buffer_size == 0) lose(c, nullptr);
}

void force_close(Conn& c, PyObject* exc) {
  if (c.conn_lost) return;
  Core* core = core_of(c);
  drop_writes(c);
  if (c.send_inflight && core != nullptr) core->cancel(&c.send_op);
  if (!c.closing) {
    c.closing = true;
    stop_recv(core, c);
  }
  lose(c, exc);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Completions

int on_recv(Core& core, Conn& c, int res, unsigned flags) {
  const bool last = !(flags & IORING_CQE_F_MORE);
  Ref request;  // the request's reference to the transport, dropped when this returns
  if (last) {
    request = Ref::steal(obj(c.self));
    core.op_finished();
    c.recv_armed = false;
    c.recv_cancelling = false;
  }
  const bool live = !core.tearing_down() && !c.closing;
  int r = 0;
  if (res > 0) {
    const auto id = static_cast<std::uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
    const char* p = core.buffers().data(id);
    const auto n = static_cast<std::size_t>(res);
    if (live && (c.paused || !c.stash.empty())) {
      Ref data = Ref::steal(PyBytes_FromStringAndSize(p, res));
      if (data) {
        c.stash.push_back(std::move(data));
      } else {
        r = settle(c, false, "Fatal read error on socket transport");
      }
    } else if (live) {
      r = deliver(c, p, n);
    }
    core.buffers().give_back(id);  // after deliver: it copies the bytes out
    if (r < 0) return -1;
  }
  if (!last || core.tearing_down()) return 0;
  if (res == 0 && !c.closing) {
    if (c.paused || !c.stash.empty()) {  // after what is stashed
      c.stash_eof = true;
    } else if (on_eof(c) < 0) {
      return -1;
    }
  } else if (res < 0 && res != -ECANCELED && res != -ENOBUFS && !c.closing) {
    Ref exc = os_error(-res);
    if (!exc) return -1;
    fatal_error(c, exc.get(), "Fatal read error on socket transport");
  }
  // A multishot recv also ends when the buffers run out (-ENOBUFS; they are back now) or the
  // kernel decides to: armed again while the protocol reads.
  if (c.stash.empty() && !c.stash_eof) start_recv(core, c);
  maybe_finish(c);
  return 0;
}

int on_send(Core& core, Conn& c, int res) {
  Ref request = Ref::steal(obj(c.self));
  core.op_finished();
  c.send_inflight = false;
  if (core.tearing_down()) return 0;
  if (res == -ECANCELED || c.conn_lost) {  // aborted
    c.sending.clear();
    c.sent_offset = 0;
    maybe_finish(c);
    return 0;
  }
  if (res == -EAGAIN || res == -EWOULDBLOCK) {  // the socket is full: wait for room, then send
    c.poll_first = true;
    want_flush(core, c);
    return 0;
  }
  if (res < 0) {
    drop_writes(c);
    c.sending.clear();
    c.sent_offset = 0;
    Ref exc = os_error(-res);
    if (!exc) return -1;
    fatal_error(c, exc.get(), "Fatal write error on socket transport");
    return 0;
  }
  auto left = static_cast<std::size_t>(res);
  c.buffer_size -= left;
  while (left > 0) {
    const std::size_t size = static_cast<std::size_t>(PyBytes_GET_SIZE(c.sending.front().get()));
    const std::size_t rest = size - c.sent_offset;
    if (left < rest) {
      c.sent_offset += left;
      break;
    }
    left -= rest;
    c.sent_offset = 0;
    c.sending.pop_front();
  }
  if (maybe_resume_protocol(c) < 0) return -1;
  if (!c.sending.empty() || !c.queued.empty()) {
    want_flush(core, c);
  } else if (c.closing) {
    if (!c.conn_lost) lose(c, nullptr);
  } else if (c.eof_written) {
    if (!shutdown_write(c)) {
      Ref exc = Ref::steal(fetch_exception());
      fatal_error(c, exc.get(), "Fatal write error on socket transport");
    }
  }
  return 0;
}

void flush(Core& core, PyObject* transport) {
  Conn& c = *as_transport(transport)->conn;
  c.flush_queued = false;
  if (c.send_inflight || c.conn_lost) return;
  while (c.sending.size() < kMaxIov && !c.queued.empty()) {
    c.sending.push_back(std::move(c.queued.front()));
    c.queued.pop_front();
  }
  if (c.sending.empty()) return;
  std::size_t n = 0;
  for (const Ref& b : c.sending) {
    const std::size_t skip = n == 0 ? c.sent_offset : 0;
    c.iov[n].iov_base = PyBytes_AS_STRING(b.get()) + skip;
    c.iov[n].iov_len = static_cast<std::size_t>(PyBytes_GET_SIZE(b.get())) - skip;
    ++n;
  }
  io_uring_sqe* s = core.sqe();
  if (n == 1) {
    io_uring_prep_send(s, c.fd, c.iov[0].iov_base, c.iov[0].iov_len, MSG_NOSIGNAL);
  } else {
    c.msg = msghdr{};
    c.msg.msg_iov = c.iov.data();
    c.msg.msg_iovlen = n;
    io_uring_prep_sendmsg(s, c.fd, &c.msg, MSG_NOSIGNAL);
  }
  if (c.poll_first) {
    s->ioprio |= IORING_RECVSEND_POLL_FIRST;
    c.poll_first = false;
  }
  io_uring_sqe_set_data(s, &c.send_op);
  Py_INCREF(transport);  // the request's: released by its completion
  core.op_started();
  c.send_inflight = true;
}

namespace {

// ---------------------------------------------------------------------------------------------
// The Python type

Conn& conn(PyObject* self) {
  return *as_transport(self)->conn;
}

bool check_core(Conn& c) {
  if (core_of(c) != nullptr) return true;
  PyErr_SetString(PyExc_RuntimeError, "Event loop is closed");
  return false;
}

PyObject* transport_new(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
  static const char* kwlist[] = {"loop", "sock", "protocol", "extra", "server", nullptr};
  PyObject *loop, *sock, *protocol, *extra, *server = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOOO!|O:SocketTransport",
                                   const_cast<char**>(kwlist), &loop, &sock, &protocol,
                                   &PyDict_Type, &extra, &server)) {
    return nullptr;
  }
  if (!is_loop(loop)) {
    PyErr_Format(PyExc_TypeError, "a ringloop loop was expected, got %R", loop);
    return nullptr;
  }
  if (reinterpret_cast<LoopObject*>(loop)->core == nullptr) {
    PyErr_SetString(PyExc_RuntimeError, "Event loop is closed");
    return nullptr;
  }
  const int fd = PyObject_AsFileDescriptor(sock);
  if (fd < 0) return nullptr;
  const int buffered = PyObject_IsInstance(protocol, g_buffered_protocol);
  if (buffered < 0) return nullptr;
  Ref self = Ref::steal(type->tp_alloc(type, 0));
  if (!self) return nullptr;
  TransportObject* t = as_transport(self.get());
  try {
    t->conn = new Conn(t, fd);
  } catch (const std::bad_alloc&) {
    return PyErr_NoMemory();
  }
  t->conn->buffered = buffered != 0;
  t->extra = Py_NewRef(extra);
  t->loop = Py_NewRef(loop);
  t->sock = Py_NewRef(sock);
  t->protocol = Py_NewRef(protocol);
  t->server = server == Py_None ? nullptr : Py_NewRef(server);
  return self.release();
}

// Everything happens in transport_new; asyncio.BaseTransport.__init__ must not run.
int transport_init(PyObject*, PyObject*, PyObject*) {
  return 0;
}

int transport_traverse(PyObject* self, visitproc visit, void* arg) {
  TransportObject* t = as_transport(self);
  Py_VISIT(Py_TYPE(self));
  Py_VISIT(t->extra);
  Py_VISIT(t->loop);
  Py_VISIT(t->sock);
  Py_VISIT(t->protocol);
  Py_VISIT(t->server);
  if (t->conn) Py_VISIT(t->conn->lost_exc.get());
  return 0;
}

int transport_clear(PyObject* self) {
  TransportObject* t = as_transport(self);
  Py_CLEAR(t->extra);
  Py_CLEAR(t->protocol);
  Py_CLEAR(t->server);
  Py_CLEAR(t->sock);
  if (t->conn) t->conn->lost_exc.reset();
  // `loop` stays: the C state reaches the loop's core through it until the object is freed.
  return 0;
}

// An unclosed transport warns and closes its socket, as asyncio's do.
void transport_finalize(PyObject* self) {
  TransportObject* t = as_transport(self);
  if (t->sock == nullptr) return;
  PyObject* exc = fetch_exception();
  if (PyErr_ResourceWarning(self, 1, "unclosed transport %R", self) < 0) {
    PyErr_WriteUnraisable(self);
  }
  Ref r = Ref::steal(call0(t->sock, names.close));
  if (!r) PyErr_WriteUnraisable(self);
  Py_CLEAR(t->sock);
  restore_exception(exc);
}

void transport_dealloc(PyObject* self) {
  if (PyObject_CallFinalizerFromDealloc(self) < 0) return;  // resurrected
  PyTypeObject* type = Py_TYPE(self);
  PyObject_GC_UnTrack(self);
  TransportObject* t = as_transport(self);
  if (t->weakreflist) PyObject_ClearWeakRefs(self);
  transport_clear(self);
  Py_CLEAR(t->loop);
  delete std::exchange(t->conn, nullptr);
  type->tp_free(self);
  Py_DECREF(type);
}

PyObject* transport_repr(PyObject* self) {
  TransportObject* t = as_transport(self);
  const Conn& c = *t->conn;
  const char* state = t->sock == nullptr ? " closed" : c.closing ? " closing" : "";
  const char* reading = c.paused ? "paused" : c.closing ? "idle" : "polling";
  return PyUnicode_FromFormat("<ringloop.SocketTransport%s fd=%d read=%s write=<bufsize=%zu>>",
                              state, c.fd, reading, c.buffer_size);
}

bool bytes_like(PyObject* data) {
  if (PyBytes_Check(data) || PyByteArray_Check(data) || PyMemoryView_Check(data)) return true;
  PyErr_Format(PyExc_TypeError, "data argument must be a bytes-like object, not '%.100s'",
               Py_TYPE(data)->tp_name);
  return false;
}

// write() without the flow-control step: 1 when it queued bytes, 0 when there was nothing to
// do, -1 on error.
int queue_write(Conn& c, PyObject* data) {
  if (!bytes_like(data)) return -1;
  if (c.eof_written) {
    PyErr_SetString(PyExc_RuntimeError, "Cannot call write() after write_eof()");
    return -1;
  }
  Ref bytes;
  if (PyBytes_CheckExact(data)) {
    bytes = Ref::borrow(data);  // immutable: the reference is enough
  } else {
    Py_buffer view;  // the caller may change its buffer after write() returns: copy it
    if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0) return -1;
    bytes = Ref::steal(PyBytes_FromStringAndSize(static_cast<const char*>(view.buf), view.len));
    PyBuffer_Release(&view);
    if (!bytes) return -1;
  }
  const auto n = static_cast<std::size_t>(PyBytes_GET_SIZE(bytes.get()));
  if (n == 0) return 0;
  if (c.conn_lost) {
    if (c.conn_lost >= kLogThresholdForConnLostWrites) {
      if (g_logger == nullptr) {
        Ref log = Ref::steal(PyImport_ImportModule("asyncio.log"));
        if (!log) return -1;
        g_logger = PyObject_GetAttrString(log.get(), "logger");
        if (g_logger == nullptr) return -1;
      }
      Ref r = Ref::steal(
          PyObject_CallMethod(g_logger, "warning", "s", "socket.send() raised exception."));
      if (!r) return -1;
    }
    ++c.conn_lost;
    return 0;
  }
  if (!check_core(c)) return -1;
  c.queued.push_back(std::move(bytes));
  c.buffer_size += n;
  want_flush(*core_of(c), c);
  return 1;
}

PyObject* transport_write(PyObject* self, PyObject* data) {
  Conn& c = conn(self);
  const int r = queue_write(c, data);
  if (r < 0) return nullptr;
  if (r > 0 && maybe_pause_protocol(c) < 0) return nullptr;
  Py_RETURN_NONE;
}

PyObject* transport_writelines(PyObject* self, PyObject* lines) {
  Conn& c = conn(self);
  Ref it = Ref::steal(PyObject_GetIter(lines));
  if (!it) return nullptr;
  bool queued = false;
  while (Ref item = Ref::steal(PyIter_Next(it.get()))) {
    const int r = queue_write(c, item.get());
    if (r < 0) return nullptr;
    queued = queued || r > 0;
  }
  if (PyErr_Occurred()) return nullptr;
  if (queued && maybe_pause_protocol(c) < 0) return nullptr;
  Py_RETURN_NONE;
}

PyObject* transport_write_eof(PyObject* self, PyObject*) {
  Conn& c = conn(self);
  if (c.closing || c.eof_written) Py_RETURN_NONE;
  c.eof_written = true;
  if (c.buffer_size == 0 && !shutdown_write(c)) return nullptr;
  Py_RETURN_NONE;
}

PyObject* transport_can_write_eof(PyObject*, PyObject*) {
  Py_RETURN_TRUE;
}

PyObject* transport_close(PyObject* self, PyObject*) {
  close_transport(conn(self));
  Py_RETURN_NONE;
}

PyObject* transport_abort(PyObject* self, PyObject*) {
  force_close(conn(self), nullptr);
  Py_RETURN_NONE;
}

PyObject* transport_is_closing(PyObject* self, PyObject*) {
  return PyBool_FromLong(conn(self).closing);
}

PyObject* transport_is_reading(PyObject* self, PyObject*) {
  return PyBool_FromLong(is_reading(conn(self)));
}

PyObject* transport_pause_reading(PyObject* self, PyObject*) {
  Conn& c = conn(self);
  if (!is_reading(c)) Py_RETURN_NONE;
  c.paused = true;
  stop_recv(core_of(c), c);
  Py_RETURN_NONE;
}

PyObject* transport_resume_reading(PyObject* self, PyObject*) {
  Conn& c = conn(self);
  if (c.closing || !c.paused) Py_RETURN_NONE;
  c.paused = false;
  if (!c.started) Py_RETURN_NONE;
  if (!check_core(c)) return nullptr;
  if (!c.stash.empty() || c.stash_eof) {
    if (!schedule(c, names.deliver_stash, nullptr)) return nullptr;
  } else {
    start_recv(*core_of(c), c);
  }
  Py_RETURN_NONE;
}

PyObject* transport_start_reading(PyObject* self, PyObject*) {
  Conn& c = conn(self);
  c.started = true;
  if (core_of(c) != nullptr) start_recv(*core_of(c), c);
  Py_RETURN_NONE;
}

// What arrived while reading was paused, in order, then the end of the stream if it came.
PyObject* transport_deliver_stash(PyObject* self, PyObject*) {
  Conn& c = conn(self);
  Ref keep = Ref::borrow(self);
  while (!c.stash.empty() && is_reading(c)) {
    Ref data = std::move(c.stash.front());
    c.stash.pop_front();
    if (deliver_bytes(c, data.get()) < 0) return nullptr;
  }
  if (!c.stash.empty() || !is_reading(c)) Py_RETURN_NONE;
  if (c.stash_eof) {
    c.stash_eof = false;
    if (on_eof(c) < 0) return nullptr;
  } else if (core_of(c) != nullptr) {
    start_recv(*core_of(c), c);
  }
  Py_RETURN_NONE;
}

PyObject* transport_call_connection_lost(PyObject* self, PyObject* exc) {
  TransportObject* t = as_transport(self);
  Ref keep = Ref::borrow(self);
  t->conn->stash.clear();
  Ref protocol = Ref::steal(std::exchange(t->protocol, nullptr));
  Ref r = protocol ? Ref::steal(call1(protocol.get(), names.connection_lost, exc))
                   : Ref::borrow(Py_None);
  // As asyncio's finally: the socket is closed and the server told, whatever the protocol did.
  PyObject* raised = r ? nullptr : fetch_exception();
  if (Ref sock = Ref::steal(std::exchange(t->sock, nullptr))) {
    Ref closed = Ref::steal(call0(sock.get(), names.close));
    if (!closed) PyErr_WriteUnraisable(self);
  }
  if (Ref server = Ref::steal(std::exchange(t->server, nullptr))) {
#if PY_VERSION_HEX >= 0x030D0000
    Ref d = Ref::steal(call1(server.get(), names.detach, self));  // 3.13: Server._detach(transport)
#else
    Ref d = Ref::steal(call0(server.get(), names.detach));
#endif
    if (!d) PyErr_WriteUnraisable(self);
  }
  if (raised != nullptr) {
    restore_exception(raised);
    return nullptr;
  }
  Py_RETURN_NONE;
}

PyObject* transport_get_write_buffer_size(PyObject* self, PyObject*) {
  return PyLong_FromSize_t(conn(self).buffer_size);
}

PyObject* transport_get_write_buffer_limits(PyObject* self, PyObject*) {
  const Conn& c = conn(self);
  return Py_BuildValue("(nn)", static_cast<Py_ssize_t>(c.low_water),
                       static_cast<Py_ssize_t>(c.high_water));
}

PyObject* transport_set_write_buffer_limits(PyObject* self, PyObject* args, PyObject* kwargs) {
  static const char* kwlist[] = {"high", "low", nullptr};
  PyObject *high_obj = Py_None, *low_obj = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|OO:set_write_buffer_limits",
                                   const_cast<char**>(kwlist), &high_obj, &low_obj)) {
    return nullptr;
  }
  Py_ssize_t high = 0, low = 0;
  if (low_obj != Py_None) {
    low = PyNumber_AsSsize_t(low_obj, PyExc_OverflowError);
    if (low == -1 && PyErr_Occurred()) return nullptr;
  }
  if (high_obj != Py_None) {
    high = PyNumber_AsSsize_t(high_obj, PyExc_OverflowError);
    if (high == -1 && PyErr_Occurred()) return nullptr;
  } else {
    high = low_obj == Py_None ? static_cast<Py_ssize_t>(kDefaultHighWater) : 4 * low;
  }
  if (low_obj == Py_None) low = high / 4;
  if (!(high >= low && low >= 0)) {
    PyErr_Format(PyExc_ValueError, "high (%zd) must be >= low (%zd) must be >= 0", high, low);
    return nullptr;
  }
  Conn& c = conn(self);
  c.high_water = static_cast<std::size_t>(high);
  c.low_water = static_cast<std::size_t>(low);
  if (maybe_pause_protocol(c) < 0) return nullptr;
  Py_RETURN_NONE;
}

PyObject* transport_get_protocol(PyObject* self, PyObject*) {
  PyObject* p = as_transport(self)->protocol;
  return Py_NewRef(p ? p : Py_None);
}

PyObject* transport_set_protocol(PyObject* self, PyObject* protocol) {
  const int buffered = PyObject_IsInstance(protocol, g_buffered_protocol);
  if (buffered < 0) return nullptr;
  TransportObject* t = as_transport(self);
  Ref old = Ref::steal(std::exchange(t->protocol, Py_NewRef(protocol)));
  t->conn->buffered = buffered != 0;
  Py_RETURN_NONE;
}

PyObject* transport_get_protocol_paused(PyObject* self, void*) {
  return PyBool_FromLong(conn(self).protocol_paused);
}

PyMethodDef transport_methods[] = {
    {"write", transport_write, METH_O, "Queue bytes to send; never blocks."},
    {"writelines", transport_writelines, METH_O, "write() each item of an iterable."},
    {"write_eof", transport_write_eof, METH_NOARGS,
     "Shut down the sending side once the queued bytes are sent."},
    {"can_write_eof", transport_can_write_eof, METH_NOARGS, "True."},
    {"close", transport_close, METH_NOARGS,
     "Stop reading, send what is queued, then call connection_lost(None)."},
    {"abort", transport_abort, METH_NOARGS,
     "Drop what is queued and close now; connection_lost(None) follows."},
    {"is_closing", transport_is_closing, METH_NOARGS, nullptr},
    {"is_reading", transport_is_reading, METH_NOARGS, nullptr},
    {"pause_reading", transport_pause_reading, METH_NOARGS,
     "Stop calling data_received until resume_reading()."},
    {"resume_reading", transport_resume_reading, METH_NOARGS, nullptr},
    {"get_write_buffer_size", transport_get_write_buffer_size, METH_NOARGS,
     "Bytes written and not yet accepted by the kernel."},
    {"get_write_buffer_limits", transport_get_write_buffer_limits, METH_NOARGS,
     "(low, high) water marks for pause_writing/resume_writing."},
    {"set_write_buffer_limits",
     reinterpret_cast<PyCFunction>(
         reinterpret_cast<void (*)(void)>(transport_set_write_buffer_limits)),
     METH_VARARGS | METH_KEYWORDS, "set_write_buffer_limits(high=None, low=None)"},
    {"get_protocol", transport_get_protocol, METH_NOARGS, nullptr},
    {"set_protocol", transport_set_protocol, METH_O, nullptr},
    {"_start_reading", transport_start_reading, METH_NOARGS, nullptr},
    {"_deliver_stash", transport_deliver_stash, METH_NOARGS, nullptr},
    {"_call_connection_lost", transport_call_connection_lost, METH_O, nullptr},
    {nullptr, nullptr, 0, nullptr},
};

PyGetSetDef transport_getset[] = {
    {"_protocol_paused", transport_get_protocol_paused, nullptr,
     "Whether pause_writing() was called and resume_writing() not yet (asyncio's sendfile "
     "fallback reads it).",
     nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

PyMemberDef transport_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(TransportObject, weakreflist), READONLY, nullptr},
    {nullptr, 0, 0, 0, nullptr},
};

}  // namespace

PyObject* create_transport_type(PyObject* transport_base, PyObject* buffered_protocol) {
  if (!intern_names()) return nullptr;
  if (!PyType_Check(transport_base)) {
    PyErr_SetString(PyExc_ImportError, "asyncio.Transport is not a class");
    return nullptr;
  }
  auto* base = reinterpret_cast<PyTypeObject*>(transport_base);
  // BaseTransport declares __slots__ = ('_extra',) and its subclasses add none: one object
  // field after the header, no __dict__, no __weakref__.
  if (base->tp_basicsize != static_cast<Py_ssize_t>(offsetof(TransportObject, weakreflist)) ||
      base->tp_itemsize != 0 || base->tp_dictoffset != 0 || base->tp_weaklistoffset != 0) {
    PyErr_SetString(PyExc_ImportError,
                    "ringloop: asyncio.Transport's instance layout is not the one this build "
                    "expects (BaseTransport.__slots__ == ('_extra',))");
    return nullptr;
  }
  g_buffered_protocol = Py_NewRef(buffered_protocol);
  PyType_Slot slots[] = {
      {Py_tp_doc, const_cast<char*>(
                      "asyncio.Transport for a connected stream socket, on io_uring (ringloop).")},
      {Py_tp_new, reinterpret_cast<void*>(transport_new)},
      {Py_tp_init, reinterpret_cast<void*>(transport_init)},
      {Py_tp_dealloc, reinterpret_cast<void*>(transport_dealloc)},
      {Py_tp_finalize, reinterpret_cast<void*>(transport_finalize)},
      {Py_tp_traverse, reinterpret_cast<void*>(transport_traverse)},
      {Py_tp_clear, reinterpret_cast<void*>(transport_clear)},
      {Py_tp_repr, reinterpret_cast<void*>(transport_repr)},
      {Py_tp_methods, transport_methods},
      {Py_tp_getset, transport_getset},
      {Py_tp_members, transport_members},
      {0, nullptr},
  };
  PyType_Spec spec = {"ringloop.SocketTransport", static_cast<int>(sizeof(TransportObject)), 0,
                      Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC, slots};
  Ref bases = Ref::steal(PyTuple_Pack(1, transport_base));
  if (!bases) return nullptr;
  return PyType_FromSpecWithBases(&spec, bases.get());
}

}  // namespace ringloop
