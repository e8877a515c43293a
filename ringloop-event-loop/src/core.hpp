// The loop's state below the Python API: ready queue, timer heap, readiness watches and the
// io_uring they wait on. One Core belongs to one ringloop.Loop; it is used with the GIL held
// (the GIL is released only around the wait in Core::poll).
#pragma once

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "ref.hpp"
#include "ring.hpp"

namespace ringloop {

// asyncio.Handle / asyncio.TimerHandle, in C. `loop` is strong: a handle keeps its loop alive,
// as asyncio's do; both types take part in garbage collection.
struct HandleObject {
  PyObject_HEAD PyObject* callback;
  PyObject* args;  // a tuple
  PyObject* context;
  PyObject* loop;
  PyObject* repr_cache;  // set by cancel() in debug mode: repr after the callback is gone
  double when;           // timers only
  bool cancelled;
  bool scheduled;  // timers only: in the heap
};

// Runs one handle's callback in its context (module.cpp). -1 with the exception set only for
// SystemExit and KeyboardInterrupt; anything else is passed to the loop's exception handler.
int run_handle(HandleObject* h);
// A new Handle running callback(*args) in a copy of the current context (module.cpp).
PyObject* new_handle(PyObject* loop, PyObject* callback, PyObject* args);
// Whether o is a ringloop loop (its C half is a LoopObject).
bool is_loop(PyObject* o);
// The raised exception as one object, the error indicator cleared (PyErr_GetRaisedException
// before 3.12).
PyObject* fetch_exception();
// Sets `exc` (a reference it takes over; null clears nothing) as the raised exception again.
void restore_exception(PyObject* exc);

class Core;

// The C half of ringloop.Loop (module.cpp); `core` is null once the loop is closed.
struct LoopObject {
  PyObject_HEAD Core* core;
  bool running;
  bool stopping;
  bool closed;
  bool debug;
  unsigned long thread_id;  // of run_forever, while running
};

struct Conn;  // a socket transport's state (transport.hpp)

// One request in flight in the ring; its address is the request's user_data. Poll and Wake
// requests are allocated by the Core; Recv and Send live in their transport's Conn.
struct Op {
  enum class Kind : std::uint8_t { Poll, Wake, Recv, Send };
  Kind kind;
  int fd = -1;
  unsigned mask = 0;
  bool stale = false;    // superseded or removed: its completion is only freed
  Conn* conn = nullptr;  // Recv, Send
};

// A completion copied out of the ring before any Python code runs for it.
struct Completion {
  Op* op;
  std::int32_t res;
  std::uint32_t flags;
};

// Readers and writers on one file descriptor (asyncio's add_reader/add_writer).
struct Watch {
  Ref reader, writer;   // HandleObject
  Op* armed = nullptr;  // the poll in flight, if any
  bool queued = false;  // in Core::to_arm
  unsigned wanted() const;
};

class Core {
 public:
  Core();
  ~Core();
  Core(const Core&) = delete;
  Core& operator=(const Core&) = delete;

  // The ready queue holds strong references to HandleObjects.
  void push_ready(PyObject* handle) {
    Py_INCREF(handle);
    ready_.push_back(handle);
  }
  // A strong reference; pushes it on the heap and marks it scheduled.
  void push_timer(PyObject* handle);
  void timer_cancelled() { ++cancelled_timers_; }

  // add_reader/add_writer (`events` = POLLIN or POLLOUT) with a new handle; the handle it
  // replaces is cancelled. remove_* returns whether one was registered.
  void watch(int fd, unsigned events, PyObject* handle);
  bool unwatch(int fd, unsigned events);

  // Wakes a loop blocked in poll() from any thread (call_soon_threadsafe).
  void wake() const;

  // One iteration's I/O part: arms pending watches, hands all queued requests to the kernel,
  // waits (no longer than the next timer; not at all when callbacks are ready) and turns
  // completions and due timers into ready handles. -1 with a Python exception set if a signal
  // handler raised.
  int poll(bool stopping, double now_plus_resolution, double now);
  // Runs the handles that were ready when it started. -1 (exception set) only for SystemExit
  // and KeyboardInterrupt; other exceptions go to the loop's exception handler.
  int run_ready(PyObject* loop);

  // Cancels and drops every handle and watch (close()); the ring goes with the Core.
  void clear();

  // For transports (transport.cpp). A transport with a request in flight holds a reference to
  // itself for it; the Core's destructor cancels such requests and waits for them.
  io_uring_sqe* sqe() { return ring_.sqe(); }
  BufferRing& buffers() { return buffers_; }
  // The transport's queued writes are handed to the kernel before the next wait (a strong
  // reference is held until then).
  void queue_flush(PyObject* transport) {
    Py_INCREF(transport);
    to_flush_.push_back(transport);
  }
  void cancel(Op* op);
  void op_started() { ++transport_ops_; }
  void op_finished() { --transport_ops_; }
  bool tearing_down() const { return tearing_down_; }
  int traverse(visitproc visit, void* arg) const;
  std::size_t ready_count() const { return ready_.size(); }
  std::size_t timer_count() const { return timers_.size() - cancelled_timers_; }

 private:
  void arm(int fd, Watch& w);
  void retire(Op* op);  // the op's request is being cancelled; its completion frees it
  void arm_wake();
  int complete(const Completion& c);  // -1: SystemExit/KeyboardInterrupt from a protocol
  int run_completions();
  void flush_writes();
  void drop_cancelled_timers();

  Ring ring_{1024};
  // 256 buffers of 64 KiB (asyncio reads up to 256 KiB at a time; a larger message arrives in
  // several completions). Declared after the ring: unregistered before it is torn down.
  BufferRing buffers_{ring_, 256, 64 * 1024, 0};
  std::vector<Completion> completions_;
  std::size_t next_completion_ = 0;  // completions_ before it have been handled
  std::vector<PyObject*> to_flush_;  // transports with writes to submit (strong)
  std::vector<PyObject*> flushing_;  // to_flush_'s contents while they are submitted
  std::size_t transport_ops_ = 0;    // Recv/Send requests in flight
  bool tearing_down_ = false;
  int wake_fd_ = -1;
  Op* wake_op_ = nullptr;
  std::deque<PyObject*> ready_;
  struct Timer {
    double when;
    std::uint64_t seq;
    PyObject* handle;  // strong
  };
  std::vector<Timer> timers_;  // a min-heap on (when, seq)
  std::uint64_t seq_ = 0;
  std::size_t cancelled_timers_ = 0;
  std::unordered_map<int, Watch> watches_;
  std::vector<int> to_arm_;
  std::unordered_set<Op*> ops_;  // every Op not yet completed, freed with the Core
};

}  // namespace ringloop
