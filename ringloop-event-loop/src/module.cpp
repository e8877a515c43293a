// ringloop._core: the event loop's hot paths as CPython types.
//
//   Handle, TimerHandle  what call_soon / call_later return (asyncio.Handle's API)
//   Loop                 the base of ringloop.Loop: scheduling, timers, readiness watches and
//                        the run loop; the rest of asyncio's API is Python (ringloop/_loop.py)
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <fcntl.h>
#include <poll.h>
#include <time.h>

#include <cerrno>
#include <cstring>
#include <new>
#include <system_error>

#include "core.hpp"
#include "transport.hpp"

namespace ringloop {
namespace {

PyTypeObject HandleType = {PyVarObject_HEAD_INIT(nullptr, 0)};
PyTypeObject TimerHandleType = {PyVarObject_HEAD_INIT(nullptr, 0)};
PyTypeObject LoopType = {PyVarObject_HEAD_INIT(nullptr, 0)};

LoopObject* as_loop(PyObject* o) {
  return reinterpret_cast<LoopObject*>(o);
}
HandleObject* as_handle(PyObject* o) {
  return reinterpret_cast<HandleObject*>(o);
}

double monotonic() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}
constexpr double kClockResolution = 1e-9;  // time.get_clock_info("monotonic") on Linux

// ---------------------------------------------------------------------------------------------
// Handle

PyObject* handle_new(PyTypeObject* type, PyObject* loop, PyObject* callback, PyObject* args,
                     PyObject* context) {
  Ref ctx;
  if (context == nullptr || context == Py_None) {
    ctx = Ref::steal(PyContext_CopyCurrent());
    if (!ctx) return nullptr;
  } else {
    ctx = Ref::borrow(context);
  }
  HandleObject* h = PyObject_GC_New(HandleObject, type);
  if (h == nullptr) return nullptr;
  h->callback = Py_NewRef(callback);
  h->args = Py_NewRef(args);
  h->context = ctx.release();
  h->loop = Py_NewRef(loop);
  h->repr_cache = nullptr;
  h->when = 0.0;
  h->cancelled = false;
  h->scheduled = false;
  PyObject_GC_Track(h);
  return reinterpret_cast<PyObject*>(h);
}

int handle_traverse(PyObject* self, visitproc visit, void* arg) {
  HandleObject* h = as_handle(self);
  Py_VISIT(h->callback);
  Py_VISIT(h->args);
  Py_VISIT(h->context);
  Py_VISIT(h->loop);
  Py_VISIT(h->repr_cache);
  return 0;
}

int handle_clear(PyObject* self) {
  HandleObject* h = as_handle(self);
  Py_CLEAR(h->callback);
  Py_CLEAR(h->args);
  Py_CLEAR(h->context);
  Py_CLEAR(h->loop);
  Py_CLEAR(h->repr_cache);
  return 0;
}

void handle_dealloc(PyObject* self) {
  PyObject_GC_UnTrack(self);
  handle_clear(self);
  Py_TYPE(self)->tp_free(self);
}

PyObject* handle_repr(PyObject* self) {
  HandleObject* h = as_handle(self);
  const char* name = Py_TYPE(self)->tp_name;
  const char* dot = strrchr(name, '.');
  name = dot ? dot + 1 : name;
  const char* state = h->cancelled ? " cancelled" : "";
  if (h->callback == nullptr) {
    if (h->repr_cache) return Py_NewRef(h->repr_cache);
    return PyUnicode_FromFormat("<%s%s>", name, state);
  }
  if (Py_TYPE(self) == &TimerHandleType) {
    Ref when = Ref::steal(PyFloat_FromDouble(h->when));
    if (!when) return nullptr;
    return PyUnicode_FromFormat("<%s%s when=%R %R%R>", name, state, when.get(), h->callback,
                                h->args);
  }
  return PyUnicode_FromFormat("<%s%s %R%R>", name, state, h->callback, h->args);
}

PyObject* handle_cancel(PyObject* self, PyObject*) {
  HandleObject* h = as_handle(self);
  if (h->cancelled) Py_RETURN_NONE;
  if (h->loop != nullptr && as_loop(h->loop)->debug && h->repr_cache == nullptr) {
    h->cancelled = true;  // asyncio keeps the repr of a cancelled handle in debug mode
    h->repr_cache = handle_repr(self);
    if (h->repr_cache == nullptr) return nullptr;
  }
  h->cancelled = true;
  if (h->scheduled && h->loop != nullptr && as_loop(h->loop)->core != nullptr) {
    as_loop(h->loop)->core->timer_cancelled();
  }
  // Like asyncio: drop the callback and its arguments now (they may hold large objects).
  Py_CLEAR(h->callback);
  Py_CLEAR(h->args);
  Py_RETURN_NONE;
}

PyObject* handle_cancelled(PyObject* self, PyObject*) {
  return PyBool_FromLong(as_handle(self)->cancelled);
}

PyObject* handle_get_context(PyObject* self, PyObject*) {
  PyObject* c = as_handle(self)->context;
  return Py_NewRef(c ? c : Py_None);
}

PyObject* handle_when(PyObject* self, PyObject*) {
  return PyFloat_FromDouble(as_handle(self)->when);
}

PyObject* handle_run_method(PyObject* self, PyObject*) {
  if (run_handle(as_handle(self)) < 0) return nullptr;
  Py_RETURN_NONE;
}

PyMethodDef handle_methods[] = {
    {"cancel", handle_cancel, METH_NOARGS, "Cancel the call; a cancelled handle never runs."},
    {"cancelled", handle_cancelled, METH_NOARGS, "Whether cancel() was called."},
    {"get_context", handle_get_context, METH_NOARGS, "The contextvars.Context it runs in."},
    {"_run", handle_run_method, METH_NOARGS, "Run the callback now (asyncio.Handle._run)."},
    {nullptr, nullptr, 0, nullptr},
};

PyMethodDef timer_methods[] = {
    {"when", handle_when, METH_NOARGS, "The loop time at which the callback is due."},
    {nullptr, nullptr, 0, nullptr},
};

}  // namespace

PyObject* fetch_exception() {
#if PY_VERSION_HEX >= 0x030C0000
  return PyErr_GetRaisedException();
#else
  PyObject *type, *value, *tb;
  PyErr_Fetch(&type, &value, &tb);
  PyErr_NormalizeException(&type, &value, &tb);
  if (tb != nullptr && value != nullptr) PyException_SetTraceback(value, tb);
  Py_XDECREF(type);
  Py_XDECREF(tb);
  return value;
#endif
}

void restore_exception(PyObject* exc) {
  if (exc == nullptr) return;
#if PY_VERSION_HEX >= 0x030C0000
  PyErr_SetRaisedException(exc);
#else
  PyErr_Restore(Py_NewRef(reinterpret_cast<PyObject*>(Py_TYPE(exc))), exc,
                PyException_GetTraceback(exc));
#endif
}

PyObject* new_handle(PyObject* loop, PyObject* callback, PyObject* args) {
  return handle_new(&HandleType, loop, callback, args, nullptr);
}

bool is_loop(PyObject* o) {
  return PyObject_TypeCheck(o, &LoopType);
}

namespace {

// The exception handler's context for a callback that raised, as asyncio builds it.
void report_callback_error(HandleObject* h, PyObject* exc) {
  Ref repr = Ref::steal(handle_repr(reinterpret_cast<PyObject*>(h)));
  if (!repr) {
    PyErr_WriteUnraisable(reinterpret_cast<PyObject*>(h));
    return;
  }
  Ref message = Ref::steal(PyUnicode_FromFormat("Exception in callback %U", repr.get()));
  Ref context = Ref::steal(PyDict_New());
  if (!message || !context || PyDict_SetItemString(context.get(), "message", message.get()) < 0 ||
      PyDict_SetItemString(context.get(), "exception", exc) < 0 ||
      PyDict_SetItemString(context.get(), "handle", reinterpret_cast<PyObject*>(h)) < 0) {
    PyErr_WriteUnraisable(reinterpret_cast<PyObject*>(h));
    return;
  }
  Ref r = Ref::steal(PyObject_CallMethod(h->loop, "call_exception_handler", "O", context.get()));
  if (!r) PyErr_WriteUnraisable(h->loop);
}

}  // namespace

int run_handle(HandleObject* h) {
  // The handle may be cancelled (dropping the callback) while it runs: hold what we call.
  Ref callback = Ref::borrow(h->callback);
  Ref args = Ref::borrow(h->args);
  Ref context = Ref::borrow(h->context);
  if (!callback) return 0;
  if (PyContext_Enter(context.get()) < 0) return -1;
  Ref result =
      Ref::steal(PyObject_Vectorcall(callback.get(), &PyTuple_GET_ITEM(args.get(), 0),
                                     static_cast<size_t>(PyTuple_GET_SIZE(args.get())), nullptr));
  if (PyContext_Exit(context.get()) < 0) return -1;
  if (result) return 0;
  if (PyErr_ExceptionMatches(PyExc_SystemExit) || PyErr_ExceptionMatches(PyExc_KeyboardInterrupt)) {
    return -1;
  }
  Ref exc = Ref::steal(fetch_exception());
  report_callback_error(h, exc.get());
  return 0;
}

namespace {

// ---------------------------------------------------------------------------------------------
// Loop

PyObject* loop_new(PyTypeObject* type, PyObject*, PyObject*) {
  LoopObject* self = reinterpret_cast<LoopObject*>(type->tp_alloc(type, 0));
  if (self == nullptr) return nullptr;
  try {
    self->core = new Core();
  } catch (const std::system_error& e) {
    errno = e.code().value();
    PyErr_Format(PyExc_OSError, "[Errno %d] %s", errno, e.what());
    Py_DECREF(self);
    return nullptr;
  } catch (const std::bad_alloc&) {
    Py_DECREF(self);
    return PyErr_NoMemory();
  }
  return reinterpret_cast<PyObject*>(self);
}

int loop_traverse(PyObject* self, visitproc visit, void* arg) {
  // A Python subclass's type is visited by CPython's subtype_traverse, not here.
  if (as_loop(self)->core) return as_loop(self)->core->traverse(visit, arg);
  return 0;
}

int loop_clear(PyObject* self) {
  if (as_loop(self)->core) as_loop(self)->core->clear();
  return 0;
}

void loop_dealloc(PyObject* self) {
  PyObject_GC_UnTrack(self);
  LoopObject* loop = as_loop(self);
  delete std::exchange(loop->core, nullptr);
  Py_TYPE(self)->tp_free(self);  // a Python subclass's type is released by subtype_dealloc
}

bool check_open(LoopObject* self) {
  if (self->closed || self->core == nullptr) {
    PyErr_SetString(PyExc_RuntimeError, "Event loop is closed");
    return false;
  }
  return true;
}

bool check_thread(LoopObject* self) {
  // asyncio checks this in debug mode only (it costs a thread lookup per call).
  if (!self->debug || !self->running) return true;
  if (PyThread_get_thread_ident() != self->thread_id) {
    PyErr_SetString(PyExc_RuntimeError,
                    "Non-thread-safe operation invoked on an event loop other than the current "
                    "one");
    return false;
  }
  return true;
}

bool check_callback(LoopObject* self, PyObject* callback, const char* method) {
  if (!PyCallable_Check(callback)) {
    PyErr_Format(PyExc_TypeError, "a callable object was expected by %s(), got %R", method,
                 callback);
    return false;
  }
  if (!self->debug) return true;
  // asyncio refuses coroutine functions in debug mode only.
  Ref coroutines = Ref::steal(PyImport_ImportModule("asyncio.coroutines"));
  if (!coroutines) return false;
  Ref is_coro =
      Ref::steal(PyObject_CallMethod(coroutines.get(), "iscoroutinefunction", "O", callback));
  if (!is_coro) return false;
  const int yes = PyObject_IsTrue(is_coro.get());
  if (yes < 0) return false;
  if (yes) {
    PyErr_Format(PyExc_TypeError, "coroutines cannot be used with %s()", method);
    return false;
  }
  return true;
}

PyObject* tuple_of(PyObject* const* items, Py_ssize_t n) {
  PyObject* t = PyTuple_New(n);
  if (t == nullptr) return nullptr;
  for (Py_ssize_t i = 0; i < n; ++i) PyTuple_SET_ITEM(t, i, Py_NewRef(items[i]));
  return t;
}

// Splits (callback, *args, context=None) after `skip` leading positional parameters.
struct CallArgs {
  PyObject* callback = nullptr;
  Ref args;
  PyObject* context = nullptr;
};

bool parse_call(const char* method, PyObject* const* argv, Py_ssize_t nargs, PyObject* kwnames,
                Py_ssize_t skip, CallArgs& out) {
  if (nargs < skip + 1) {
    PyErr_Format(PyExc_TypeError, "%s() missing the callback argument", method);
    return false;
  }
  out.callback = argv[skip];
  out.args = Ref::steal(tuple_of(argv + skip + 1, nargs - skip - 1));
  if (!out.args) return false;
  if (kwnames != nullptr) {
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(kwnames); ++i) {
      PyObject* name = PyTuple_GET_ITEM(kwnames, i);
      if (PyUnicode_CompareWithASCIIString(name, "context") != 0) {
        PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument %R", method, name);
        return false;
      }
      out.context = argv[nargs + i];
    }
  }
  if (out.context != nullptr && out.context != Py_None && !PyContext_CheckExact(out.context)) {
    PyErr_Format(PyExc_TypeError, "context must be a contextvars.Context, got %R", out.context);
    return false;
  }
  return true;
}

PyObject* schedule_soon(LoopObject* self, const char* method, PyObject* const* argv,
                        Py_ssize_t nargs, PyObject* kwnames, bool threadsafe) {
  CallArgs call;
  if (!parse_call(method, argv, nargs, kwnames, 0, call)) return nullptr;
  if (!check_open(self)) return nullptr;
  if (!threadsafe && !check_thread(self)) return nullptr;
  if (!check_callback(self, call.callback, method)) return nullptr;
  PyObject* h = handle_new(&HandleType, reinterpret_cast<PyObject*>(self), call.callback,
                           call.args.get(), call.context);
  if (h == nullptr) return nullptr;
  self->core->push_ready(h);
  if (threadsafe) self->core->wake();
  return h;
}

PyObject* loop_call_soon(PyObject* self, PyObject* const* argv, Py_ssize_t nargs,
                         PyObject* kwnames) {
  return schedule_soon(as_loop(self), "call_soon", argv, PyVectorcall_NARGS(nargs), kwnames, false);
}

PyObject* loop_call_soon_threadsafe(PyObject* self, PyObject* const* argv, Py_ssize_t nargs,
                                    PyObject* kwnames) {
  return schedule_soon(as_loop(self), "call_soon_threadsafe", argv, PyVectorcall_NARGS(nargs),
                       kwnames, true);
}

PyObject* schedule_at(LoopObject* self, const char* method, double when, const CallArgs& call) {
  if (!check_open(self) || !check_thread(self)) return nullptr;
  if (!check_callback(self, call.callback, method)) return nullptr;
  PyObject* h = handle_new(&TimerHandleType, reinterpret_cast<PyObject*>(self), call.callback,
                           call.args.get(), call.context);
  if (h == nullptr) return nullptr;
  as_handle(h)->when = when;
  self->core->push_timer(h);
  return h;
}

bool as_seconds(PyObject* o, const char* what, double& out) {
  if (o == Py_None) {
    PyErr_Format(PyExc_TypeError, "%s must not be None", what);
    return false;
  }
  out = PyFloat_AsDouble(o);
  return !(out == -1.0 && PyErr_Occurred());
}

PyObject* loop_call_later(PyObject* self, PyObject* const* argv, Py_ssize_t nargs,
                          PyObject* kwnames) {
  CallArgs call;
  if (!parse_call("call_later", argv, PyVectorcall_NARGS(nargs), kwnames, 1, call)) {
    return nullptr;
  }
  double delay;
  if (!as_seconds(argv[0], "delay", delay)) return nullptr;
  return schedule_at(as_loop(self), "call_later", monotonic() + delay, call);
}

PyObject* loop_call_at(PyObject* self, PyObject* const* argv, Py_ssize_t nargs, PyObject* kwnames) {
  CallArgs call;
  if (!parse_call("call_at", argv, PyVectorcall_NARGS(nargs), kwnames, 1, call)) return nullptr;
  double when;
  if (!as_seconds(argv[0], "when", when)) return nullptr;
  return schedule_at(as_loop(self), "call_at", when, call);
}

PyObject* loop_time(PyObject*, PyObject*) {
  return PyFloat_FromDouble(monotonic());
}

// One iteration: I/O and timers, then the callbacks that were ready when it started.
int run_once(LoopObject* self) {
  const double now = monotonic();
  if (self->core->poll(self->stopping, now + kClockResolution, now) < 0) return -1;
  return self->core->run_ready(reinterpret_cast<PyObject*>(self));
}

PyObject* loop_run_forever_native(PyObject* op, PyObject*) {
  LoopObject* self = as_loop(op);
  if (!check_open(self)) return nullptr;
  if (self->running) {
    PyErr_SetString(PyExc_RuntimeError, "This event loop is already running");
    return nullptr;
  }
  Ref keep = Ref::borrow(op);  // a callback may drop the last reference elsewhere
  self->running = true;
  self->thread_id = PyThread_get_thread_ident();
  int r = 0;
  while (r == 0) {
    r = run_once(self);
    if (self->stopping || self->closed) break;
  }
  self->stopping = false;
  self->running = false;
  self->thread_id = 0;
  if (r < 0) return nullptr;
  Py_RETURN_NONE;
}

PyObject* loop_run_once(PyObject* op, PyObject*) {
  LoopObject* self = as_loop(op);
  if (!check_open(self)) return nullptr;
  if (run_once(self) < 0) return nullptr;
  Py_RETURN_NONE;
}

PyObject* loop_stop(PyObject* self, PyObject*) {
  as_loop(self)->stopping = true;
  Py_RETURN_NONE;
}

PyObject* loop_is_running(PyObject* self, PyObject*) {
  return PyBool_FromLong(as_loop(self)->running);
}

PyObject* loop_is_closed(PyObject* self, PyObject*) {
  return PyBool_FromLong(as_loop(self)->closed);
}

PyObject* loop_close_native(PyObject* op, PyObject*) {
  LoopObject* self = as_loop(op);
  if (self->running) {
    PyErr_SetString(PyExc_RuntimeError, "Cannot close a running event loop");
    return nullptr;
  }
  if (self->closed) Py_RETURN_NONE;
  self->closed = true;
  delete std::exchange(self->core, nullptr);
  Py_RETURN_NONE;
}

PyObject* loop_get_debug(PyObject* self, PyObject*) {
  return PyBool_FromLong(as_loop(self)->debug);
}

PyObject* loop_set_debug(PyObject* self, PyObject* flag) {
  const int on = PyObject_IsTrue(flag);
  if (on < 0) return nullptr;
  as_loop(self)->debug = on != 0;
  Py_RETURN_NONE;
}

// An int or an object with fileno(), as selectors accept; the fd must be open.
bool to_fd(PyObject* fileobj, int& fd) {
  fd = PyObject_AsFileDescriptor(fileobj);
  if (fd < 0) return false;
  if (::fcntl(fd, F_GETFD) < 0) {
    PyErr_SetFromErrno(PyExc_OSError);
    return false;
  }
  return true;
}

PyObject* add_watch(PyObject* op, PyObject* const* argv, Py_ssize_t nargs, unsigned events,
                    const char* method) {
  LoopObject* self = as_loop(op);
  nargs = PyVectorcall_NARGS(nargs);
  if (nargs < 2) {
    PyErr_Format(PyExc_TypeError, "%s() takes a file descriptor and a callback", method);
    return nullptr;
  }
  if (!check_open(self) || !check_thread(self)) return nullptr;
  int fd;
  if (!to_fd(argv[0], fd)) return nullptr;
  CallArgs call;
  if (!parse_call(method, argv, nargs, nullptr, 1, call)) return nullptr;
  if (!check_callback(self, call.callback, method)) return nullptr;
  Ref h = Ref::steal(handle_new(&HandleType, op, call.callback, call.args.get(), nullptr));
  if (!h) return nullptr;
  self->core->watch(fd, events, h.get());
  return h.release();
}

PyObject* remove_watch(PyObject* op, PyObject* fileobj, unsigned events) {
  LoopObject* self = as_loop(op);
  if (self->core == nullptr) Py_RETURN_FALSE;  // closed: nothing is watched
  if (!check_thread(self)) return nullptr;
  const int fd = PyObject_AsFileDescriptor(fileobj);
  if (fd < 0) return nullptr;
  return PyBool_FromLong(self->core->unwatch(fd, events));
}

PyObject* loop_add_reader(PyObject* self, PyObject* const* argv, Py_ssize_t nargs) {
  return add_watch(self, argv, nargs, POLLIN | POLLPRI, "add_reader");
}
PyObject* loop_add_writer(PyObject* self, PyObject* const* argv, Py_ssize_t nargs) {
  return add_watch(self, argv, nargs, POLLOUT, "add_writer");
}
PyObject* loop_remove_reader(PyObject* self, PyObject* fd) {
  return remove_watch(self, fd, POLLIN | POLLPRI);
}
PyObject* loop_remove_writer(PyObject* self, PyObject* fd) {
  return remove_watch(self, fd, POLLOUT);
}

PyObject* loop_stats(PyObject* op, PyObject*) {
  LoopObject* self = as_loop(op);
  if (self->core == nullptr) {
    return Py_BuildValue("{s:n,s:n}", "ready", Py_ssize_t{0}, "timers", Py_ssize_t{0});
  }
  return Py_BuildValue("{s:n,s:n}", "ready", static_cast<Py_ssize_t>(self->core->ready_count()),
                       "timers", static_cast<Py_ssize_t>(self->core->timer_count()));
}

#define FASTKW(f) reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(f))

PyMethodDef loop_methods[] = {
    {"call_soon", FASTKW(loop_call_soon), METH_FASTCALL | METH_KEYWORDS,
     "call_soon(callback, *args, context=None): run callback on the next iteration."},
    {"call_soon_threadsafe", FASTKW(loop_call_soon_threadsafe), METH_FASTCALL | METH_KEYWORDS,
     "Like call_soon, from any thread: wakes the loop."},
    {"call_later", FASTKW(loop_call_later), METH_FASTCALL | METH_KEYWORDS,
     "call_later(delay, callback, *args, context=None) -> TimerHandle"},
    {"call_at", FASTKW(loop_call_at), METH_FASTCALL | METH_KEYWORDS,
     "call_at(when, callback, *args, context=None) -> TimerHandle"},
    {"time", loop_time, METH_NOARGS, "The loop's clock: time.monotonic()."},
    {"stop", loop_stop, METH_NOARGS, "Stop after the current iteration."},
    {"is_running", loop_is_running, METH_NOARGS, nullptr},
    {"is_closed", loop_is_closed, METH_NOARGS, nullptr},
    {"get_debug", loop_get_debug, METH_NOARGS, nullptr},
    {"set_debug", loop_set_debug, METH_O, nullptr},
    {"_add_reader", FASTKW(loop_add_reader), METH_FASTCALL,
     "add_reader(fd, callback, *args): call it whenever fd is readable."},
    {"_add_writer", FASTKW(loop_add_writer), METH_FASTCALL,
     "add_writer(fd, callback, *args): call it whenever fd is writable."},
    {"_remove_reader", loop_remove_reader, METH_O, "Stop watching fd for reading; -> bool."},
    {"_remove_writer", loop_remove_writer, METH_O, "Stop watching fd for writing; -> bool."},
    {"_run_forever_native", loop_run_forever_native, METH_NOARGS, nullptr},
    {"_run_once", loop_run_once, METH_NOARGS, nullptr},
    {"_close_native", loop_close_native, METH_NOARGS, nullptr},
    {"_stats", loop_stats, METH_NOARGS, "Counts of ready handles and live timers."},
    {nullptr, nullptr, 0, nullptr},
};

PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    "ringloop._core",
    "The native core of ringloop: handles, timers, readiness and the run loop on io_uring.",
    -1,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
};

bool ready_types() {
  HandleType.tp_name = "ringloop.Handle";
  HandleType.tp_basicsize = sizeof(HandleObject);
  HandleType.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE;
  HandleType.tp_doc = "A callback scheduled by call_soon or add_reader (asyncio.Handle's API).";
  HandleType.tp_traverse = handle_traverse;
  HandleType.tp_clear = handle_clear;
  HandleType.tp_dealloc = handle_dealloc;
  HandleType.tp_repr = handle_repr;
  HandleType.tp_methods = handle_methods;

  TimerHandleType.tp_name = "ringloop.TimerHandle";
  TimerHandleType.tp_basicsize = sizeof(HandleObject);
  TimerHandleType.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC;
  TimerHandleType.tp_doc = "A callback scheduled by call_later or call_at.";
  TimerHandleType.tp_base = &HandleType;
  TimerHandleType.tp_traverse = handle_traverse;
  TimerHandleType.tp_clear = handle_clear;
  TimerHandleType.tp_dealloc = handle_dealloc;
  TimerHandleType.tp_repr = handle_repr;
  TimerHandleType.tp_methods = timer_methods;

  LoopType.tp_name = "ringloop._core.Loop";
  LoopType.tp_basicsize = sizeof(LoopObject);
  LoopType.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE;
  LoopType.tp_doc = "The native half of ringloop.Loop.";
  LoopType.tp_new = loop_new;
  LoopType.tp_traverse = loop_traverse;
  LoopType.tp_clear = loop_clear;
  LoopType.tp_dealloc = loop_dealloc;
  LoopType.tp_methods = loop_methods;
  return PyType_Ready(&HandleType) == 0 && PyType_Ready(&TimerHandleType) == 0 &&
         PyType_Ready(&LoopType) == 0;
}

}  // namespace
}  // namespace ringloop

PyMODINIT_FUNC PyInit__core() {
  using namespace ringloop;
  if (!ready_types()) return nullptr;
  Ref transports = Ref::steal(PyImport_ImportModule("asyncio.transports"));
  Ref protocols = Ref::steal(PyImport_ImportModule("asyncio.protocols"));
  if (!transports || !protocols) return nullptr;
  Ref base = Ref::steal(PyObject_GetAttrString(transports.get(), "Transport"));
  Ref buffered = Ref::steal(PyObject_GetAttrString(protocols.get(), "BufferedProtocol"));
  if (!base || !buffered) return nullptr;
  Ref transport_type = Ref::steal(create_transport_type(base.get(), buffered.get()));
  if (!transport_type) return nullptr;
  Ref m = Ref::steal(PyModule_Create(&module_def));
  if (!m) return nullptr;
  if (PyModule_AddObjectRef(m.get(), "Handle", reinterpret_cast<PyObject*>(&HandleType)) < 0 ||
      PyModule_AddObjectRef(m.get(), "TimerHandle", reinterpret_cast<PyObject*>(&TimerHandleType)) <
          0 ||
      PyModule_AddObjectRef(m.get(), "Loop", reinterpret_cast<PyObject*>(&LoopType)) < 0 ||
      PyModule_AddObjectRef(m.get(), "SocketTransport", transport_type.get()) < 0) {
    return nullptr;
  }
  return m.release();
}
