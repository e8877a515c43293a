// An owned reference to a Python object: the one place reference counts are managed by hand.
#pragma once

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <utility>

namespace ringloop {

class Ref {
 public:
  Ref() noexcept = default;
  // Takes over a new reference (nullptr allowed: an empty Ref).
  static Ref steal(PyObject* o) noexcept {
    Ref r;
    r.p_ = o;
    return r;
  }
  // Adds a reference to a borrowed one.
  static Ref borrow(PyObject* o) noexcept {
    Py_XINCREF(o);
    return steal(o);
  }
  Ref(const Ref&) = delete;
  Ref& operator=(const Ref&) = delete;
  Ref(Ref&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  Ref& operator=(Ref&& o) noexcept {
    if (this != &o) reset(std::exchange(o.p_, nullptr));
    return *this;
  }
  ~Ref() { Py_XDECREF(p_); }

  PyObject* get() const noexcept { return p_; }
  PyObject* release() noexcept { return std::exchange(p_, nullptr); }
  // Drops the old object after the new one is in place (its destructor may run Python code).
  void reset(PyObject* o = nullptr) noexcept {
    PyObject* old = std::exchange(p_, o);
    Py_XDECREF(old);
  }
  explicit operator bool() const noexcept { return p_ != nullptr; }

 private:
  PyObject* p_ = nullptr;
};

}  // namespace ringloop
