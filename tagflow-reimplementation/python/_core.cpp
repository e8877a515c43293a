// tagflow_cpp._core: the CPython binding of the engine, written against the C API directly
// (chosen over nanobind by measurement, see README "Design notes"). The product is the cost of
// one Python call per element, so every element method is a METH_FASTCALL|METH_KEYWORDS
// function generated per tag, and `with` guards are cached per depth (no allocation).
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <array>
#include <atomic>
#include <cstring>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tagflow/document.hpp"

namespace {

using tagflow::AttrValue;
using tagflow::ElementKind;

// ---------------------------------------------------------------------------------------------
// Tag table
// ---------------------------------------------------------------------------------------------

// The element table (tagflow/elements.hpp, from tags.def): one method per entry, ELEMENTS and
// VOID_ELEMENTS, and the type stub generated from the same table (tools/gen_stub.py).
constexpr const auto& kTags = tagflow::kElements;
constexpr std::size_t kTagCount = tagflow::kElementCount;

// Python method name: the identifier without a trailing underscore ("template"), except for
// Python keywords ("del_").
std::string python_method_name(const char* ident) {
  std::string n(ident);
  if (!n.empty() && n.back() == '_') n.pop_back();
  if (n == "del") n = "del_";
  return n;
}

// ---------------------------------------------------------------------------------------------
// Objects
// ---------------------------------------------------------------------------------------------

struct DocumentObject;

// What `doc.div()` returns: a context manager that closes the element it opened. One per depth,
// cached by the document, so `with doc.div():` allocates nothing.
struct GuardObject {
  PyObject_HEAD DocumentObject* doc;  // borrowed; cleared when the document dies
  std::uint64_t serial;
  bool void_guard;  // compat: void elements used with `with` (nothing to close)
  bool entered;     // inside its `with` block (a guard cannot be entered twice)
  // compat: `with tag.div() as el` gives this guard as the element's handle. `ordinal` is the
  // element's place in document order (what enter(el) and el.<attr> resolve it by). A guard
  // still held elsewhere when its depth opens the next element is left to its holder for good
  // (`detached`: it then owns a reference to its document) and the depth gets a new guard.
  bool detached;
  std::uint64_t ordinal;
  // Its __enter__ and __exit__, made once (see GuardMethodObject); owned.
  PyObject* bound_enter;
  PyObject* bound_exit;
};

struct DocumentObject {
  PyObject_HEAD tagflow::Document* doc;
  PyObject* sink;       // streaming: the callable receiving finished chunks (or nullptr)
  unsigned long owner;  // thread that created the document
  // Re-entrancy guard (a __html__ calling back into the same document) and, for compat
  // documents that hop threads, the guard against two threads in one document at once: on a
  // free-threaded build nothing else serialises them. Set by compare-exchange in Enter.
  std::atomic<bool> busy;
  bool compat;  // tagflow 0.12.0 semantics (tagflow_cpp.compat)
  // compat: tagflow's element tree, once the document needed one (enter(), live sessions,
  // Markup, an element handle used as an element): every compat call then goes to it
  // (tagflow_cpp._compat_tree.Tree) and this engine only checks and writes what it renders.
  PyObject* tree;
  // compat: element ordinals removed by clear_content(), [first, last) pairs.
  std::vector<std::pair<std::uint64_t, std::uint64_t>>* removed;
  std::vector<GuardObject*>* guards;
  GuardObject* void_guard;
  PyObject* weakrefs;
};

// compat: content written inside `with tag.br():` belongs in the void element (tagflow's tree
// holds it there; its XML shows it), which only the tree can express.
bool inside_void(const DocumentObject* self) {
  return self->void_guard != nullptr && self->void_guard->entered;
}

PyTypeObject* g_document_type = nullptr;
PyTypeObject* g_guard_type = nullptr;
PyTypeObject* g_guard_method_type = nullptr;
PyObject* g_leaf_result = nullptr;  // returned by leaf / void calls; refuses `with`
PyObject* g_str_html = nullptr;     // "__html__"

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

// Entering and leaving a document method: thread ownership and re-entrancy.
class Enter {
 public:
  explicit Enter(DocumentObject* self) : self_(self) {
    if (self->doc == nullptr) [[unlikely]] {
      PyErr_SetString(PyExc_RuntimeError, "Document.__init__ was not called");
      return;
    }
    // compat documents follow tagflow: the document lives in a context variable, which
    // asyncio.to_thread and threadpool endpoints copy into a worker thread. Such a hop is
    // allowed whenever no call is in flight (busy below); the explicit API keeps one owner.
    if (!self->compat && self->owner != PyThread_get_thread_ident()) [[unlikely]] {
      PyErr_Format(PyExc_RuntimeError,
                   "this Document belongs to thread %lu and cannot be used from thread %lu "
                   "(create one Document per thread)",
                   self->owner, PyThread_get_thread_ident());
      return;
    }
    bool expected = false;
    if (!self->busy.compare_exchange_strong(expected, true, std::memory_order_acquire))
        [[unlikely]] {
      PyErr_SetString(PyExc_RuntimeError,
                      "Document used re-entrantly (e.g. from __html__ or __str__ of a value "
                      "being written to the same document) or from two threads at once");
      return;
    }
    ok_ = true;
  }
  ~Enter() {
    if (ok_) self_->busy.store(false, std::memory_order_release);
  }
  explicit operator bool() const noexcept { return ok_; }
  Enter(const Enter&) = delete;
  Enter& operator=(const Enter&) = delete;

 private:
  DocumentObject* self_;
  bool ok_ = false;
};

// Thrown through the engine when the Python sink of a streaming document raised (the Python
// exception is already set).
struct SinkFailed {};

// Translates a C++ exception into a Python one; always returns nullptr.
PyObject* set_error_from_exception() {
  try {
    throw;
  } catch (const SinkFailed&) {
    // the sink's Python exception is already set
  } catch (const tagflow::Error& e) {
    // Engine messages quote offending text with control characters escaped (never cut at a
    // NUL); decode leniently so that a message can never fail to become an exception.
    PyObject* msg = PyUnicode_DecodeUTF8(e.what(), static_cast<Py_ssize_t>(std::strlen(e.what())),
                                         "backslashreplace");
    if (msg != nullptr) {
      PyErr_SetObject(PyExc_ValueError, msg);
      Py_DECREF(msg);
    }
  } catch (const std::bad_alloc&) {
    PyErr_NoMemory();
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
  }
  return nullptr;
}

// The catch-all of a call that may have written part of an element: undoes it, unless the
// failure was the sink's (then the element is complete and stays, to be flushed again later).
PyObject* fail_and_undo(tagflow::Document& doc, const tagflow::Document::Checkpoint& mark) {
  try {
    throw;
  } catch (const SinkFailed&) {
    return nullptr;
  } catch (...) {
    doc.rollback(mark);
    return set_error_from_exception();
  }
}

// UTF-8 of a str (zero-copy for ASCII); nullptr with UnicodeEncodeError for lone surrogates.
bool utf8(PyObject* s, std::string_view& out) {
  Py_ssize_t n = 0;
  const char* p = PyUnicode_AsUTF8AndSize(s, &n);
  if (p == nullptr) return false;
  out = std::string_view(p, static_cast<std::size_t>(n));
  return true;
}

// Owns the text form of a value while it is written.
class TextValue {
 public:
  TextValue() = default;
  TextValue(const TextValue&) = delete;
  TextValue& operator=(const TextValue&) = delete;
  ~TextValue() {
    Py_XDECREF(ref_);
    if (heap_ != nullptr) PyMem_Free(heap_);
  }
  std::string_view view;
  bool markup = false;  // from __html__: inserted as is
  bool none = false;

  bool from_str(PyObject* s) {
    ref_ = Py_NewRef(s);
    return utf8(s, view);
  }
  bool from_float(PyObject* f) {
    heap_ = PyOS_double_to_string(PyFloat_AS_DOUBLE(f), 'r', 0, Py_DTSF_ADD_DOT_0, nullptr);
    if (heap_ == nullptr) return false;
    view = heap_;
    return true;
  }
  bool from_int(PyObject* i) {
    int overflow = 0;
    const long long v = PyLong_AsLongLongAndOverflow(i, &overflow);
    if (overflow == 0) {
      if (v == -1 && PyErr_Occurred()) return false;
      const int n = PyOS_snprintf(small_, sizeof small_, "%lld", v);
      view = std::string_view(small_, static_cast<std::size_t>(n));
      return true;
    }
    PyObject* s = PyLong_Type.tp_repr(i);  // big ints; int's own repr, no user code
    if (s == nullptr) return false;
    ref_ = s;
    return utf8(s, view);
  }
  bool from_bool(PyObject* b) {
    view = b == Py_True ? "True" : "False";
    return true;
  }

 private:
  PyObject* ref_ = nullptr;
  char* heap_ = nullptr;
  char small_[32] = {};
};

// Text content: str, int, float, None (nothing), or an object with __html__ (markup).
bool text_value(PyObject* v, TextValue& out) {
  if (PyUnicode_CheckExact(v)) return out.from_str(v);
  if (v == Py_None) {
    out.none = true;
    return true;
  }
  PyObject* html = nullptr;
#if PY_VERSION_HEX >= 0x030D0000
  if (PyObject_GetOptionalAttr(v, g_str_html, &html) < 0) return false;
#else
  if (_PyObject_LookupAttr(v, g_str_html, &html) < 0) return false;
#endif
  if (html != nullptr) {
    PyObject* markup = PyObject_CallNoArgs(html);
    Py_DECREF(html);
    if (markup == nullptr) return false;
    if (!PyUnicode_Check(markup)) {
      PyErr_Format(PyExc_TypeError, "%.100s.__html__() returned %.100s, not str",
                   Py_TYPE(v)->tp_name, Py_TYPE(markup)->tp_name);
      Py_DECREF(markup);
      return false;
    }
    out.markup = true;
    const bool ok = out.from_str(markup);
    Py_DECREF(markup);
    return ok;
  }
  if (PyUnicode_Check(v)) return out.from_str(v);
  if (PyBool_Check(v)) return out.from_bool(v);
  if (PyLong_Check(v)) return out.from_int(v);
  if (PyFloat_Check(v)) return out.from_float(v);
  PyErr_Format(PyExc_TypeError,
               "cannot write a value of type %.100s as text (use str, int, float, None, or an "
               "object with __html__)",
               Py_TYPE(v)->tp_name);
  return false;
}

void write_text(tagflow::Document& doc, const TextValue& t) {
  if (t.none) return;
  if (t.markup) {
    doc.raw(t.view);
  } else {
    doc.text(t.view);
  }
}

// Attribute name from a keyword: one trailing underscore dropped (class_, for_), every other
// underscore becomes a hyphen (hx_post -> hx-post, data_a_b_c -> data-a-b-c).
bool convert_name(PyObject* key, std::string& out) {
  std::string_view k;
  if (!utf8(key, k)) return false;
  if (k.size() > 1 && k.back() == '_') k.remove_suffix(1);
  out.assign(k);
  for (char& c : out) {
    if (c == '_') c = '-';
  }
  if (!tagflow::is_valid_attr_name(out)) {
    PyErr_Format(PyExc_ValueError,
                 "invalid attribute name %R: names may not be empty or contain whitespace, "
                 "quotes, < > / = or control characters",
                 key);
    return false;
  }
  return true;
}

PyObject* unsupported_attr(std::string_view name, PyObject* v) {
  PyErr_Format(PyExc_TypeError,
               "attribute '%s': unsupported value type %.100s (use str, int, float, bool or "
               "None)",
               std::string(name).c_str(), Py_TYPE(v)->tp_name);
  return nullptr;
}

// One attribute (explicit API rules). Returns false with a Python error set.
bool write_attr(tagflow::Document& doc, std::string_view name, PyObject* v) {
  if (v == Py_None || v == Py_False) return true;
  if (v == Py_True) {
    doc.attr_trusted(name, AttrValue(true));
    return true;
  }
  if (PyUnicode_Check(v)) {
    std::string_view s;
    if (!utf8(v, s)) return false;
    doc.attr_trusted(name, AttrValue(s));
    return true;
  }
  if (PyLong_Check(v) && !PyBool_Check(v)) {
    TextValue t;
    if (!t.from_int(v)) return false;
    doc.attr_trusted(name, AttrValue(t.view));
    return true;
  }
  if (PyFloat_Check(v)) {
    TextValue t;
    if (!t.from_float(v)) return false;
    doc.attr_trusted(name, AttrValue(t.view));
    return true;
  }
  if (name == "class" && (PyList_Check(v) || PyTuple_Check(v))) {
    PyObject* seq = PySequence_Fast(v, "class");
    if (seq == nullptr) return false;
    const Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject** items = PySequence_Fast_ITEMS(seq);
    bool ok = true;
    for (Py_ssize_t i = 0; ok && i < n; ++i) {
      PyObject* item = items[i];
      if (item == Py_None || item == Py_False) continue;
      if (!PyUnicode_Check(item)) {
        PyErr_Format(PyExc_TypeError, "attribute 'class': list items must be str, not %.100s",
                     Py_TYPE(item)->tp_name);
        ok = false;
        break;
      }
      std::string_view s;
      ok = utf8(item, s);
      if (ok) doc.classes(s);
    }
    Py_DECREF(seq);
    return ok;
  }
  return unsupported_attr(name, v) != nullptr;
}

// data={...} / aria={...}: prefix-key for each entry.
bool write_prefixed(tagflow::Document& doc, std::string_view prefix, PyObject* dict) {
  PyObject* key = nullptr;
  PyObject* value = nullptr;
  Py_ssize_t pos = 0;
  std::string name;
  std::string full;
  while (PyDict_Next(dict, &pos, &key, &value)) {
    if (!PyUnicode_Check(key)) {
      PyErr_Format(PyExc_TypeError, "%s={...} keys must be str, not %.100s",
                   std::string(prefix).c_str(), Py_TYPE(key)->tp_name);
      return false;
    }
    if (!convert_name(key, name)) return false;
    full.assign(prefix);
    full.push_back('-');
    full.append(name);
    if (!write_attr(doc, full, value)) return false;
  }
  return true;
}

// All keyword arguments of an element call (explicit API).
bool write_kwargs(tagflow::Document& doc, PyObject* const* values, PyObject* kwnames) {
  const Py_ssize_t n = PyTuple_GET_SIZE(kwnames);
  std::string name;
  for (Py_ssize_t i = 0; i < n; ++i) {
    PyObject* key = PyTuple_GET_ITEM(kwnames, i);
    PyObject* v = values[i];
    if (!convert_name(key, name)) return false;
    if ((name == "data" || name == "aria") && PyDict_Check(v)) {
      if (!write_prefixed(doc, name, v)) return false;
      continue;
    }
    if (!write_attr(doc, name, v)) return false;
  }
  return true;
}

// `with` looks __enter__ and __exit__ up on the guard's type and, for ordinary methods, binds
// each to the guard: two new bound-method objects per element, about a tenth of a compat page's
// time. A guard is reused for every element opened at its depth, so it holds its two bound
// callables, made once, and the type's __enter__/__exit__ are descriptors that hand them out.
struct GuardMethodObject {
  PyObject_HEAD GuardObject* guard;  // borrowed; nullptr once the guard is gone
  vectorcallfunc vectorcall;
  bool exit;  // __exit__, else __enter__
};

PyObject* guard_method_vectorcall(PyObject* op, PyObject* const* args, std::size_t nargsf,
                                  PyObject* kwnames);

PyObject* new_guard_method(GuardObject* g, bool exit) {
  auto* m = PyObject_New(GuardMethodObject, g_guard_method_type);
  if (m == nullptr) return nullptr;
  m->guard = g;
  m->exit = exit;
  m->vectorcall = guard_method_vectorcall;
  return reinterpret_cast<PyObject*>(m);
}

// A guard for `self`'s elements (a void guard: compat's `with tag.br():`, nothing to close).
GuardObject* new_guard(DocumentObject* self, bool void_guard) {
  GuardObject* g = PyObject_New(GuardObject, g_guard_type);
  if (g == nullptr) return nullptr;
  g->doc = self;
  g->serial = 0;
  g->void_guard = void_guard;
  g->entered = false;
  g->detached = false;
  g->ordinal = 0;
  g->bound_enter = new_guard_method(g, false);
  g->bound_exit = g->bound_enter == nullptr ? nullptr : new_guard_method(g, true);
  if (g->bound_exit == nullptr) {
    g->doc = nullptr;
    Py_DECREF(g);
    return nullptr;
  }
  return g;
}

// compat: a cached guard someone still holds (`with tag.li() as el`, el kept) stays that
// element's handle: it takes a reference to its document and leaves the cache to its holder.
bool held_elsewhere(GuardObject*& slot) {
  GuardObject* g = slot;
  if (g == nullptr || Py_REFCNT(g) <= 1) return false;
  g->detached = true;
  Py_INCREF(g->doc);
  slot = nullptr;
  Py_DECREF(g);  // the cache's reference
  return true;
}

GuardObject* guard_for_top(DocumentObject* self) {
  const std::size_t depth = self->doc->depth() - 1;
  auto& guards = *self->guards;
  if (guards.size() <= depth) guards.resize(depth + 1, nullptr);
  if (self->compat) held_elsewhere(guards[depth]);
  GuardObject* g = guards[depth];
  if (g == nullptr) {
    g = new_guard(self, false);
    if (g == nullptr) return nullptr;
    guards[depth] = g;
  }
  g->serial = self->doc->top_serial();
  g->entered = false;
  g->ordinal = self->doc->elements_written() - 1;
  return g;
}

// The shared body of `doc.<tag>(...)` and `doc.tag(name, ...)`.
PyObject* element_call(DocumentObject* self, std::string_view name, ElementKind kind,
                       PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  if (nargs > 1) {
    PyErr_Format(PyExc_TypeError,
                 "<%s>: at most one positional argument (the text of a leaf element), got %zd",
                 std::string(name).c_str(), nargs);
    return nullptr;
  }
  TextValue content;
  if (nargs == 1) {
    if (kind == ElementKind::kVoid) {
      PyErr_Format(PyExc_TypeError, "<%s> is a void element and cannot have text content",
                   std::string(name).c_str());
      return nullptr;
    }
  }
  // Entered before the value is converted: __html__ is user code, and writing to this document
  // from it would interleave its output with this call's (it raises RuntimeError instead).
  Enter enter(self);
  if (!enter) return nullptr;
  if (nargs == 1 && !text_value(args[0], content)) return nullptr;
  tagflow::Document& doc = *self->doc;
  const auto mark = doc.checkpoint();
  try {
    doc.start_trusted(name, kind);
    if (kwnames != nullptr && !write_kwargs(doc, args + nargs, kwnames)) {
      doc.rollback(mark);
      return nullptr;
    }
    if (nargs == 1 || kind == ElementKind::kVoid) {
      if (nargs == 1)
        doc.finish_leaf(content.none ? std::string_view() : content.view, content.markup);
      return Py_NewRef(g_leaf_result);
    }
  } catch (...) {
    return fail_and_undo(doc, mark);
  }
  GuardObject* g = guard_for_top(self);
  if (g == nullptr) {
    doc.rollback(mark);
    return nullptr;
  }
  return Py_NewRef(reinterpret_cast<PyObject*>(g));
}

template <std::size_t I>
PyObject* tag_method(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  static constexpr std::string_view name = kTags[I].name;
  return element_call(reinterpret_cast<DocumentObject*>(self), name, kTags[I].kind, args, nargs,
                      kwnames);
}

using FastKeywords = PyObject* (*)(PyObject*, PyObject* const*, Py_ssize_t, PyObject*);

template <std::size_t... I>
constexpr std::array<FastKeywords, sizeof...(I)> make_tag_functions(std::index_sequence<I...>) {
  return {&tag_method<I>...};
}
constexpr auto kTagFunctions = make_tag_functions(std::make_index_sequence<kTagCount>{});

// ---------------------------------------------------------------------------------------------
// Guard and leaf-result types
// ---------------------------------------------------------------------------------------------

PyObject* guard_enter(PyObject* op, PyObject*) {
  auto* g = reinterpret_cast<GuardObject*>(op);
  // `with tag.div() as el`: el is this element's handle (tagflow gives its element; compat's
  // enter(el) and el.<attr> resolve it). A void element's `with` block is remembered: content
  // written inside it goes into the element, as in tagflow's tree (see tf_text).
  if (g->void_guard) {
    g->entered = true;
    return Py_NewRef(op);
  }
  DocumentObject* self = g->doc;
  if (self == nullptr || self->doc == nullptr) {
    PyErr_SetString(PyExc_RuntimeError, "the Document of this element no longer exists");
    return nullptr;
  }
  if (g->entered) {
    PyErr_Format(PyExc_RuntimeError,
                 "this element's `with` block is already active: an element guard cannot be "
                 "entered twice (open: %s)",
                 self->doc->describe_open().c_str());
    return nullptr;
  }
  if (self->doc->depth() == 0 || self->doc->top_serial() != g->serial) {
    PyErr_Format(PyExc_RuntimeError,
                 "this element is not the innermost open one (or was closed already); use "
                 "`with` right on the element call (open: %s)",
                 self->doc->describe_open().c_str());
    return nullptr;
  }
  g->entered = true;
  return Py_NewRef(op);
}

PyObject* guard_exit(PyObject* op, PyObject* const*, Py_ssize_t) {
  auto* g = reinterpret_cast<GuardObject*>(op);
  DocumentObject* self = g->doc;
  if (self == nullptr) {
    PyErr_SetString(PyExc_RuntimeError, "the Document of this element no longer exists");
    return nullptr;
  }
  const bool was_void = g->void_guard;
  g->entered = false;
  if (self->tree != nullptr) {  // opened before the document turned into a tree
    PyObject* r =
        PyObject_CallMethod(self->tree, was_void ? "exit_void" : "exit_stream", "(O)", op);
    if (r == nullptr) return nullptr;
    Py_DECREF(r);
    Py_RETURN_FALSE;
  }
  if (was_void) Py_RETURN_FALSE;
  Enter enter(self);
  if (!enter) return nullptr;
  tagflow::Document& doc = *self->doc;
  if (doc.depth() == 0 || doc.top_serial() != g->serial) {
    PyErr_Format(PyExc_ValueError,
                 "elements closed out of order: this `with` block's element is not the "
                 "innermost open one (open: %s)",
                 doc.describe_open().c_str());
    return nullptr;
  }
  try {
    doc.end();
  } catch (...) {
    return set_error_from_exception();
  }
  Py_RETURN_FALSE;
}

// tp_dealloc of the heap types here whose objects hold no references of their own
// (PyObject_New, no GC): free the object, then drop its reference to its type.
void free_plain_object(PyObject* op) {
  PyTypeObject* type = Py_TYPE(op);
  PyObject_Free(op);
  Py_DECREF(type);
}

void guard_dealloc(PyObject* op) {
  auto* g = reinterpret_cast<GuardObject*>(op);
  for (PyObject* m : {g->bound_enter, g->bound_exit}) {
    if (m != nullptr) {
      reinterpret_cast<GuardMethodObject*>(m)->guard = nullptr;  // a `with` may still hold it
      Py_DECREF(m);
    }
  }
  DocumentObject* doc = g->detached ? g->doc : nullptr;
  free_plain_object(op);
  Py_XDECREF(reinterpret_cast<PyObject*>(doc));
}

// compat: an element handle used as tagflow's xml.etree element (el.set(...), el.attrib,
// el.text = ...) turns the document into a tree and forwards to its element.
PyObject* g_tf_switch = nullptr;   // switch(doc) -> the document's tree (made once)
PyObject* g_tf_element = nullptr;  // element(handle) -> its xml.etree element

// Whether `name` on this handle means its tagflow element (a compat document's handle; dunder
// names stay the handle's own: copy, pickle and IPython probe them).
bool forwards_to_element(GuardObject* g, PyObject* name) {
  if (g->doc == nullptr || !g->doc->compat || g_tf_element == nullptr) return false;
  return !(PyUnicode_Check(name) && PyUnicode_GetLength(name) >= 2 &&
           PyUnicode_ReadChar(name, 0) == '_' && PyUnicode_ReadChar(name, 1) == '_');
}

PyObject* guard_getattro(PyObject* op, PyObject* name) {
  PyObject* found = PyObject_GenericGetAttr(op, name);
  auto* g = reinterpret_cast<GuardObject*>(op);
  if (found != nullptr || !PyErr_ExceptionMatches(PyExc_AttributeError) ||
      !forwards_to_element(g, name)) {
    return found;
  }
  PyErr_Clear();
  PyObject* el = PyObject_CallOneArg(g_tf_element, op);
  if (el == nullptr) return nullptr;
  found = PyObject_GetAttr(el, name);
  Py_DECREF(el);
  return found;
}

int guard_setattro(PyObject* op, PyObject* name, PyObject* v) {
  if (!forwards_to_element(reinterpret_cast<GuardObject*>(op), name)) {
    return PyObject_GenericSetAttr(op, name, v);
  }
  PyObject* el = PyObject_CallOneArg(g_tf_element, op);
  if (el == nullptr) return -1;
  const int rc = PyObject_SetAttr(el, name, v);
  Py_DECREF(el);
  return rc;
}

PyObject* guard_document(PyObject* op, void*) {
  auto* g = reinterpret_cast<GuardObject*>(op);
  return Py_NewRef(g->doc != nullptr ? reinterpret_cast<PyObject*>(g->doc) : Py_None);
}
PyObject* guard_ordinal(PyObject* op, void*) {
  return PyLong_FromUnsignedLongLong(reinterpret_cast<GuardObject*>(op)->ordinal);
}
PyObject* guard_serial(PyObject* op, void*) {
  return PyLong_FromUnsignedLongLong(reinterpret_cast<GuardObject*>(op)->serial);
}

PyGetSetDef guard_getset[] = {
    {"_document", guard_document, nullptr, "compat: the element's Document (None once gone).",
     nullptr},
    {"_ordinal", guard_ordinal, nullptr, "compat: the element's place in document order.", nullptr},
    {"_serial", guard_serial, nullptr, "The engine's number of the open element.", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr}};

PyType_Slot guard_slots[] = {
    {Py_tp_dealloc, reinterpret_cast<void*>(guard_dealloc)},
    {Py_tp_getattro, reinterpret_cast<void*>(guard_getattro)},
    {Py_tp_setattro, reinterpret_cast<void*>(guard_setattro)},
    {Py_tp_getset, guard_getset},
    {Py_tp_doc, const_cast<char*>("Context manager returned by doc.<element>(): closes it. "
                                  "In tagflow_cpp.compat also the element's handle: "
                                  "enter(el), el.set(...), el.attrib as on tagflow's element.")},
    {0, nullptr}};

PyObject* guard_method_vectorcall(PyObject* op, PyObject* const* args, std::size_t nargsf,
                                  PyObject* kwnames) {
  auto* m = reinterpret_cast<GuardMethodObject*>(op);
  const Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
  if (kwnames != nullptr && PyTuple_GET_SIZE(kwnames) != 0) {
    PyErr_SetString(PyExc_TypeError, "__enter__/__exit__ take no keyword arguments");
    return nullptr;
  }
  if (m->guard == nullptr) {
    PyErr_SetString(PyExc_RuntimeError, "the Document of this element no longer exists");
    return nullptr;
  }
  if (m->exit) return guard_exit(reinterpret_cast<PyObject*>(m->guard), args, nargs);
  if (nargs != 0) {
    PyErr_Format(PyExc_TypeError, "__enter__() takes no arguments (%zd given)", nargs);
    return nullptr;
  }
  return guard_enter(reinterpret_cast<PyObject*>(m->guard), nullptr);
}

PyMemberDef guard_method_members[] = {{"__vectorcalloffset__", T_PYSSIZET,
                                       offsetof(GuardMethodObject, vectorcall), READONLY, nullptr},
                                      {nullptr, 0, 0, 0, nullptr}};

PyType_Slot guard_method_slots[] = {
    {Py_tp_dealloc, reinterpret_cast<void*>(free_plain_object)},
    {Py_tp_call, reinterpret_cast<void*>(PyVectorcall_Call)},
    {Py_tp_members, guard_method_members},
    {Py_tp_doc, const_cast<char*>("An element guard's __enter__ or __exit__, bound to it.")},
    {0, nullptr}};

PyType_Spec guard_method_spec = {"tagflow_cpp._core._ElementMethod", sizeof(GuardMethodObject), 0,
                                 Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL,
                                 guard_method_slots};

// Element.__enter__ / Element.__exit__: `element.__enter__` is the guard's own bound callable.
struct GuardDescrObject {
  PyObject_HEAD bool exit;
};

PyObject* guard_descr_get(PyObject* op, PyObject* obj, PyObject*) {
  if (obj == nullptr || obj == Py_None) return Py_NewRef(op);
  if (!PyObject_TypeCheck(obj, g_guard_type)) {
    PyErr_SetString(PyExc_TypeError, "descriptor of tagflow_cpp._core.Element on another type");
    return nullptr;
  }
  auto* g = reinterpret_cast<GuardObject*>(obj);
  return Py_NewRef(reinterpret_cast<GuardDescrObject*>(op)->exit ? g->bound_exit : g->bound_enter);
}

PyType_Slot guard_descr_slots[] = {{Py_tp_dealloc, reinterpret_cast<void*>(free_plain_object)},
                                   {Py_tp_descr_get, reinterpret_cast<void*>(guard_descr_get)},
                                   {0, nullptr}};

PyType_Spec guard_descr_spec = {"tagflow_cpp._core._ElementMethodDescriptor",
                                sizeof(GuardDescrObject), 0, Py_TPFLAGS_DEFAULT, guard_descr_slots};

// Puts the two descriptors into the Element type.
int add_guard_methods() {
  g_guard_method_type = reinterpret_cast<PyTypeObject*>(PyType_FromSpec(&guard_method_spec));
  if (g_guard_method_type == nullptr) return -1;
  auto* descr_type = reinterpret_cast<PyTypeObject*>(PyType_FromSpec(&guard_descr_spec));
  if (descr_type == nullptr) return -1;
  int rc = 0;
  for (const bool exit : {false, true}) {
    auto* d = PyObject_New(GuardDescrObject, descr_type);
    if (d == nullptr) {
      rc = -1;
      break;
    }
    d->exit = exit;
    rc = PyObject_SetAttrString(reinterpret_cast<PyObject*>(g_guard_type),
                                exit ? "__exit__" : "__enter__", reinterpret_cast<PyObject*>(d));
    Py_DECREF(d);
    if (rc < 0) break;
  }
  Py_DECREF(descr_type);
  return rc;
}

PyType_Spec guard_spec = {"tagflow_cpp._core.Element", sizeof(GuardObject), 0, Py_TPFLAGS_DEFAULT,
                          guard_slots};

PyObject* leaf_enter(PyObject*, PyObject*) {
  PyErr_SetString(PyExc_TypeError,
                  "this call already wrote a complete element (a leaf with text, or a void "
                  "element); use `with doc.<tag>(**attrs):` without text to nest content");
  return nullptr;
}
PyObject* leaf_exit(PyObject*, PyObject* const*, Py_ssize_t) {
  Py_RETURN_FALSE;
}

PyMethodDef leaf_methods[] = {
    {"__enter__", leaf_enter, METH_NOARGS, nullptr},
    {"__exit__", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(leaf_exit)),
     METH_FASTCALL, nullptr},
    {nullptr, nullptr, 0, nullptr}};

PyObject* leaf_repr(PyObject*) {
  return PyUnicode_FromString("<tagflow_cpp: element written>");
}

PyType_Slot leaf_slots[] = {
    {Py_tp_methods, leaf_methods}, {Py_tp_repr, reinterpret_cast<void*>(leaf_repr)}, {0, nullptr}};
PyType_Spec leaf_spec = {"tagflow_cpp._core.Written", 0, 0, Py_TPFLAGS_DEFAULT, leaf_slots};

// ---------------------------------------------------------------------------------------------
// Document methods
// ---------------------------------------------------------------------------------------------

DocumentObject* as_doc(PyObject* o) {
  return reinterpret_cast<DocumentObject*>(o);
}

int document_init(PyObject* op, PyObject* args, PyObject* kwds) {
  static const char* kwlist[] = {"compat", nullptr};
  int compat = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "|$p:Document", const_cast<char**>(kwlist),
                                   &compat)) {
    return -1;
  }
  DocumentObject* self = as_doc(op);
  if (self->busy.load(std::memory_order_acquire)) {
    PyErr_SetString(PyExc_RuntimeError, "Document.__init__ called while the document is in use");
    return -1;
  }
  tagflow::Options options;
  if (compat != 0) {
    options.attr_escape = tagflow::escape::Mode::kTagflowAttr;
    options.etree_voids = true;
  }
  try {
    delete self->doc;
    self->doc = new tagflow::Document(options);
    Py_CLEAR(self->sink);
    if (self->guards == nullptr) self->guards = new std::vector<GuardObject*>();
  } catch (...) {
    set_error_from_exception();
    return -1;
  }
  self->compat = compat != 0;
  self->owner = PyThread_get_thread_ident();
  Py_CLEAR(self->tree);
  if (self->removed != nullptr) self->removed->clear();
  return 0;
}

PyObject* document_new(PyTypeObject* type, PyObject*, PyObject*) {
  PyObject* op = type->tp_alloc(type, 0);
  if (op == nullptr) return nullptr;
  DocumentObject* self = as_doc(op);
  self->doc = nullptr;
  self->sink = nullptr;
  self->guards = nullptr;
  self->void_guard = nullptr;
  self->weakrefs = nullptr;
  self->tree = nullptr;
  self->removed = nullptr;
  self->owner = PyThread_get_thread_ident();
  new (&self->busy) std::atomic<bool>(false);  // tp_alloc gives raw (zeroed) memory
  return op;
}

int document_traverse(PyObject* op, visitproc visit, void* arg) {
  Py_VISIT(as_doc(op)->sink);
  Py_VISIT(as_doc(op)->tree);
  Py_VISIT(Py_TYPE(op));
  return 0;
}

int document_clear_refs(PyObject* op) {
  DocumentObject* self = as_doc(op);
  if (self->doc != nullptr && self->doc->streaming()) self->doc->stream_to(nullptr, 1);
  Py_CLEAR(self->sink);
  Py_CLEAR(self->tree);
  return 0;
}

void document_dealloc(PyObject* op) {
  DocumentObject* self = as_doc(op);
  PyObject_GC_UnTrack(op);
  if (self->weakrefs != nullptr) PyObject_ClearWeakRefs(op);
  Py_CLEAR(self->sink);
  Py_CLEAR(self->tree);
  delete self->removed;
  if (self->guards != nullptr) {
    for (GuardObject* g : *self->guards) {
      if (g != nullptr) {
        g->doc = nullptr;
        Py_DECREF(g);
      }
    }
    delete self->guards;
  }
  if (self->void_guard != nullptr) {
    self->void_guard->doc = nullptr;
    Py_DECREF(self->void_guard);
  }
  delete self->doc;
  PyTypeObject* type = Py_TYPE(op);
  type->tp_free(op);
  Py_DECREF(type);
}

bool ready(DocumentObject* self) {
  if (self->doc == nullptr) {
    PyErr_SetString(PyExc_RuntimeError, "Document.__init__ was not called");
    return false;
  }
  return true;
}

PyObject* document_tag(PyObject* op, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  DocumentObject* self = as_doc(op);
  if (nargs < 1) {
    PyErr_SetString(PyExc_TypeError, "tag() needs the element name: doc.tag(\"div\", ...)");
    return nullptr;
  }
  if (!PyUnicode_Check(args[0])) {
    PyErr_Format(PyExc_TypeError, "tag(): the element name must be str, not %.100s",
                 Py_TYPE(args[0])->tp_name);
    return nullptr;
  }
  std::string_view name;
  if (!utf8(args[0], name)) return nullptr;
  try {
    tagflow::validate_tag_name(name);
  } catch (...) {
    return set_error_from_exception();
  }
  return element_call(self, name, tagflow::element_kind(name, self->compat), args + 1, nargs - 1,
                      kwnames);
}

PyObject* document_text_impl(DocumentObject* self, PyObject* value) {
  TextValue t;
  Enter enter(self);  // first: __html__ is user code and may not write to this document
  if (!enter) return nullptr;
  if (!text_value(value, t)) return nullptr;
  try {
    write_text(*self->doc, t);
  } catch (...) {
    return set_error_from_exception();
  }
  Py_RETURN_NONE;
}

PyObject* document_text(PyObject* op, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs != 1) {
    PyErr_SetString(PyExc_TypeError, "text() takes exactly one argument");
    return nullptr;
  }
  return document_text_impl(as_doc(op), args[0]);
}

PyObject* document_raw(PyObject* op, PyObject* arg) {
  DocumentObject* self = as_doc(op);
  Enter enter(self);
  if (!enter) return nullptr;
  if (!PyUnicode_Check(arg)) {
    PyErr_Format(PyExc_TypeError, "raw() takes a str, not %.100s", Py_TYPE(arg)->tp_name);
    return nullptr;
  }
  std::string_view s;
  if (!utf8(arg, s)) return nullptr;
  try {
    self->doc->raw(s);
  } catch (...) {
    return set_error_from_exception();
  }
  Py_RETURN_NONE;
}

PyObject* document_attr(PyObject* op, PyObject* const* args, Py_ssize_t nargs) {
  DocumentObject* self = as_doc(op);
  if (nargs != 2 || !PyUnicode_Check(args[0])) {
    PyErr_SetString(PyExc_TypeError, "attr(name: str, value) takes exactly two arguments");
    return nullptr;
  }
  Enter enter(self);
  if (!enter) return nullptr;
  std::string name;
  if (!convert_name(args[0], name)) return nullptr;
  tagflow::Document& doc = *self->doc;
  const auto mark = doc.checkpoint();
  try {
    if (!doc.accepts_attributes()) {
      doc.attr_trusted(name, AttrValue(nullptr));  // throws the error naming the element
    }
    if (args[1] == Py_None || args[1] == Py_False) {
      doc.remove_attr(name);
    } else if ((name == "data" || name == "aria") && PyDict_Check(args[1])) {
      if (!write_prefixed(doc, name, args[1])) {
        doc.rollback(mark);
        return nullptr;
      }
    } else if (!write_attr(doc, name, args[1])) {
      doc.rollback(mark);
      return nullptr;
    }
  } catch (...) {
    return fail_and_undo(doc, mark);
  }
  Py_RETURN_NONE;
}

PyObject* document_classes(PyObject* op, PyObject* const* args, Py_ssize_t nargs) {
  DocumentObject* self = as_doc(op);
  Enter enter(self);
  if (!enter) return nullptr;
  tagflow::Document& doc = *self->doc;
  const auto mark = doc.checkpoint();
  try {
    if (!doc.accepts_attributes()) doc.classes("");  // throws the error naming the element
    for (Py_ssize_t i = 0; i < nargs; ++i) {
      if (args[i] == Py_None || args[i] == Py_False) continue;
      if (!PyUnicode_Check(args[i])) {
        doc.rollback(mark);
        PyErr_Format(PyExc_TypeError, "classes() takes str arguments, not %.100s",
                     Py_TYPE(args[i])->tp_name);
        return nullptr;
      }
      std::string_view s;
      if (!utf8(args[i], s)) {
        doc.rollback(mark);
        return nullptr;
      }
      doc.classes(s);
    }
  } catch (...) {
    return fail_and_undo(doc, mark);
  }
  Py_RETURN_NONE;
}

// script_json(value, /, **attrs): <script attrs>JSON</script>, the JSON escaped for the script
// context (< > & U+2028 U+2029 as \uXXXX). A str is JSON text already; anything else goes
// through json.dumps().
PyObject* document_script_json(PyObject* op, PyObject* const* args, Py_ssize_t nargs,
                               PyObject* kwnames) {
  DocumentObject* self = as_doc(op);
  if (nargs != 1) {
    PyErr_SetString(PyExc_TypeError,
                    "script_json(value, /, **attrs) takes exactly one positional argument");
    return nullptr;
  }
  Enter enter(self);  // json.dumps may run user code: it may not write to this document
  if (!enter) return nullptr;
  PyObject* text = nullptr;
  if (PyUnicode_Check(args[0])) {
    text = Py_NewRef(args[0]);
  } else {
    PyObject* json = PyImport_ImportModule("json");
    if (json == nullptr) return nullptr;
    text = PyObject_CallMethod(json, "dumps", "(O)", args[0]);
    Py_DECREF(json);
    if (text == nullptr) return nullptr;
    if (!PyUnicode_Check(text)) {
      Py_DECREF(text);
      PyErr_SetString(PyExc_TypeError, "json.dumps() did not return a str");
      return nullptr;
    }
  }
  std::string_view json_text;
  const bool ok = utf8(text, json_text);
  if (!ok) {
    Py_DECREF(text);
    return nullptr;
  }
  tagflow::Document& doc = *self->doc;
  const auto mark = doc.checkpoint();
  PyObject* result = nullptr;
  try {
    doc.start_trusted("script", ElementKind::kRawText);
    if (kwnames != nullptr && !write_kwargs(doc, args + nargs, kwnames)) {
      doc.rollback(mark);
    } else {
      doc.json_text(json_text);
      doc.end();
      result = Py_NewRef(g_leaf_result);
    }
  } catch (...) {
    fail_and_undo(doc, mark);
  }
  Py_DECREF(text);
  return result;
}

// A method without arguments: ownership check, the engine call, C++ errors to Python.
template <class F>
PyObject* simple_call(PyObject* op, F&& call) {
  DocumentObject* self = as_doc(op);
  Enter enter(self);
  if (!enter) return nullptr;
  try {
    call(*self->doc);
  } catch (...) {
    return set_error_from_exception();
  }
  Py_RETURN_NONE;
}

PyObject* document_doctype(PyObject* op, PyObject*) {
  return simple_call(op, [](tagflow::Document& d) { d.doctype(); });
}

PyObject* document_render(PyObject* op, PyObject*) {
  DocumentObject* self = as_doc(op);
  if (!ready(self)) return nullptr;
  Enter enter(self);
  if (!enter) return nullptr;
  std::string_view out;
  try {
    if (self->doc->streaming()) {
      throw tagflow::Error("render(): this document streams to a sink; call finish() instead");
    }
    out = self->doc->view();
  } catch (...) {
    return set_error_from_exception();
  }
  return PyUnicode_DecodeUTF8(out.data(), static_cast<Py_ssize_t>(out.size()), "strict");
}

PyObject* document_str(PyObject* op) {
  return document_render(op, nullptr);
}

PyObject* document_clear(PyObject* op, PyObject*) {
  return simple_call(op, [](tagflow::Document& d) { d.clear(); });
}

PyObject* document_clear_content(PyObject* op, PyObject*) {
  DocumentObject* self = as_doc(op);
  if (!ready(self)) return nullptr;
  // compat: the children of the innermost element are the elements after it in document
  // order; their ordinals are remembered so that handles to them stay detached.
  const std::size_t depth = self->doc->depth();
  const bool track = self->compat && depth > 0 && self->guards->size() >= depth &&
                     (*self->guards)[depth - 1] != nullptr;
  const std::uint64_t first = track ? (*self->guards)[depth - 1]->ordinal + 1 : 0;
  PyObject* result = simple_call(op, [](tagflow::Document& d) { d.clear_content(); });
  const std::uint64_t last = self->doc->elements_written();
  if (result != nullptr && track && last > first) {
    try {
      if (self->removed == nullptr)
        self->removed = new std::vector<std::pair<std::uint64_t, std::uint64_t>>();
      self->removed->emplace_back(first, last);
    } catch (...) {
      Py_DECREF(result);
      return set_error_from_exception();
    }
  }
  return result;
}

PyObject* document_stream_to(PyObject* op, PyObject* args, PyObject* kwds) {
  static const char* kwlist[] = {"write", "threshold", nullptr};
  PyObject* write = nullptr;
  Py_ssize_t threshold = 64 * 1024;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|n:stream_to", const_cast<char**>(kwlist), &write,
                                   &threshold)) {
    return nullptr;
  }
  if (!PyCallable_Check(write)) {
    PyErr_Format(PyExc_TypeError, "stream_to() needs a callable taking str chunks, not %.100s",
                 Py_TYPE(write)->tp_name);
    return nullptr;
  }
  if (threshold < 1) {
    PyErr_SetString(PyExc_ValueError, "stream_to(): threshold must be at least 1 byte");
    return nullptr;
  }
  DocumentObject* self = as_doc(op);
  Enter enter(self);
  if (!enter) return nullptr;
  Py_XSETREF(self->sink, Py_NewRef(write));
  // The engine hands finished UTF-8 (always cut at a character boundary: it only ever appends
  // whole strings) to the Python callable; a Python exception travels back as SinkFailed.
  self->doc->stream_to(
      [self](std::string_view chunk) {
        PyObject* text =
            PyUnicode_DecodeUTF8(chunk.data(), static_cast<Py_ssize_t>(chunk.size()), "strict");
        if (text == nullptr) throw SinkFailed{};
        PyObject* r = PyObject_CallOneArg(self->sink, text);
        Py_DECREF(text);
        if (r == nullptr) throw SinkFailed{};
        Py_DECREF(r);
      },
      static_cast<std::size_t>(threshold));
  Py_RETURN_NONE;
}

PyObject* document_finish(PyObject* op, PyObject*) {
  return simple_call(op, [](tagflow::Document& d) {
    if (!d.streaming()) throw tagflow::Error("finish(): the document does not stream (render())");
    d.flush(true);
  });
}

PyObject* document_open_tags(PyObject* op, void*) {
  DocumentObject* self = as_doc(op);
  if (!ready(self)) return nullptr;
  const std::size_t n = self->doc->depth();
  PyObject* t = PyTuple_New(static_cast<Py_ssize_t>(n));
  if (t == nullptr) return nullptr;
  for (std::size_t i = 0; i < n; ++i) {
    const std::string_view s = self->doc->open_tag(i);
    PyObject* name = PyUnicode_FromStringAndSize(s.data(), static_cast<Py_ssize_t>(s.size()));
    if (name == nullptr) {
      Py_DECREF(t);
      return nullptr;
    }
    PyTuple_SET_ITEM(t, static_cast<Py_ssize_t>(i), name);
  }
  return t;
}

PyObject* document_elements(PyObject* op, void*) {
  DocumentObject* self = as_doc(op);
  if (!ready(self)) return nullptr;
  return PyLong_FromUnsignedLongLong(self->doc->elements_written());
}

PyObject* document_compat(PyObject* op, void*) {
  return PyBool_FromLong(as_doc(op)->compat);
}

PyObject* document_get_tree(PyObject* op, void*) {
  PyObject* tree = as_doc(op)->tree;
  return Py_NewRef(tree != nullptr ? tree : Py_None);
}

int document_set_tree(PyObject* op, PyObject* value, void*) {
  DocumentObject* self = as_doc(op);
  if (value == nullptr || value == Py_None) {
    Py_CLEAR(self->tree);
  } else {
    Py_XSETREF(self->tree, Py_NewRef(value));
  }
  return 0;
}

PyObject* document_removed(PyObject* op, void*) {
  DocumentObject* self = as_doc(op);
  PyObject* list = PyList_New(0);
  if (list == nullptr || self->removed == nullptr) return list;
  for (const auto& [first, last] : *self->removed) {
    PyObject* pair = Py_BuildValue("(KK)", static_cast<unsigned long long>(first),
                                   static_cast<unsigned long long>(last));
    if (pair == nullptr || PyList_Append(list, pair) < 0) {
      Py_XDECREF(pair);
      Py_DECREF(list);
      return nullptr;
    }
    Py_DECREF(pair);
  }
  return list;
}

PyObject* document_open_serials(PyObject* op, void*) {
  DocumentObject* self = as_doc(op);
  if (!ready(self)) return nullptr;
  const std::size_t n = self->doc->depth();
  PyObject* t = PyTuple_New(static_cast<Py_ssize_t>(n));
  if (t == nullptr) return nullptr;
  for (std::size_t i = 0; i < n; ++i) {
    const GuardObject* g = i < self->guards->size() ? (*self->guards)[i] : nullptr;
    PyObject* v = g != nullptr ? PyLong_FromUnsignedLongLong(g->serial) : Py_NewRef(Py_None);
    if (v == nullptr) {
      Py_DECREF(t);
      return nullptr;
    }
    PyTuple_SET_ITEM(t, static_cast<Py_ssize_t>(i), v);
  }
  return t;
}

PyObject* document_partial(PyObject* op, void*) {
  DocumentObject* self = as_doc(op);
  if (!ready(self)) return nullptr;
  Enter enter(self);
  if (!enter) return nullptr;
  std::string out(self->doc->buffered());
  out.append(self->doc->pending_close());
  return PyUnicode_DecodeUTF8(out.data(), static_cast<Py_ssize_t>(out.size()), "strict");
}

PyObject* document_entered_void(PyObject* op, void*) {
  DocumentObject* self = as_doc(op);
  return Py_NewRef(inside_void(self) ? reinterpret_cast<PyObject*>(self->void_guard) : Py_None);
}

PyObject* document_in_raw_text(PyObject* op, void*) {
  DocumentObject* self = as_doc(op);
  if (!ready(self)) return nullptr;
  return PyBool_FromLong(self->doc->depth() > 0 && self->doc->top_is_raw());
}

// ---------------------------------------------------------------------------------------------
// tagflow 0.12.0 semantics (used by tagflow_cpp.compat)
// ---------------------------------------------------------------------------------------------

bool is_word_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c >= 0x80;
}

// Text collected by a compat call before anything is written: borrowed (the UTF-8 of a str
// that outlives the call) or owned by the call's scratch string, as an offset (the scratch may
// grow and move while more is collected).
struct Piece {       // trivial: PendingAttrs keeps a few uninitialised on the stack
  const char* data;  // nullptr: in the scratch string at `offset`
  std::size_t offset;
  std::size_t size;

  static Piece borrowed(std::string_view s) noexcept { return {s.data(), 0, s.size()}; }
  static Piece owned(const std::string& scratch, std::size_t from) noexcept {
    return {nullptr, from, scratch.size() - from};
  }
  [[nodiscard]] std::string_view view(const std::string& scratch) const noexcept {
    return data != nullptr ? std::string_view(data, size)
                           : std::string_view(scratch).substr(offset, size);
  }
};

// tagflow's attr_name_to_xml: "classes"/"class_" -> "class", else re.sub(r"(\w)_(\w)", r"\1-\2")
// (non-overlapping, so data_a_b_c -> data-a_b-c, exactly as tagflow does). The key's own bytes
// when nothing changes, else a copy in `scratch`.
bool tagflow_name(PyObject* key, std::string& scratch, Piece& out) {
  std::string_view k;
  if (!utf8(key, k)) return false;
  if (k == "classes" || k == "class_") {
    out = Piece::borrowed("class");
    return true;
  }
  std::size_t copied = std::string::npos;  // where the copy starts in scratch, once made
  std::size_t consumed = 0;                // first index a new match may start at
  for (std::size_t i = 1; i + 1 < k.size(); ++i) {
    if (k[i] == '_' && i - 1 >= consumed && is_word_byte(static_cast<unsigned char>(k[i - 1])) &&
        is_word_byte(static_cast<unsigned char>(k[i + 1]))) {
      if (copied == std::string::npos) {
        copied = scratch.size();
        scratch.append(k);
      }
      scratch[copied + i] = '-';
      consumed = i + 2;
    }
  }
  out = copied == std::string::npos ? Piece::borrowed(k) : Piece::owned(scratch, copied);
  if (!tagflow::is_valid_attr_name(out.view(scratch))) {
    PyErr_Format(PyExc_ValueError, "invalid attribute name %R", key);
    return false;
  }
  return true;
}

// tagflow's strs(): a str, or nested lists of str joined by spaces, falsy items skipped.
bool tagflow_strs(PyObject* v, std::string& out, int depth = 0) {
  if (PyUnicode_Check(v)) {
    std::string_view s;
    if (!utf8(v, s)) return false;
    out.append(s);
    return true;
  }
  if (PyList_Check(v)) {
    if (depth > 100) {
      PyErr_SetString(PyExc_RecursionError, "class list nested too deeply");
      return false;
    }
    bool first = true;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(v); ++i) {
      PyObject* item = PyList_GET_ITEM(v, i);
      const int truth = PyObject_IsTrue(item);
      if (truth < 0) return false;
      if (truth == 0) continue;
      if (!first) out.push_back(' ');
      first = false;
      Py_INCREF(item);
      const bool ok = tagflow_strs(item, out, depth + 1);
      Py_DECREF(item);
      if (!ok) return false;
    }
    return true;
  }
  return true;  // anything else contributes ""
}

PyObject* no_compat_document() {
  PyErr_SetString(PyExc_LookupError,
                  "tagflow_cpp.compat: no document is active (use `with document():`)");
  return nullptr;
}

// 1 when `v` has __html__ (markupsafe.Markup and the like), 0 when not, -1 on error.
int has_html(PyObject* v) {
  PyObject* html = nullptr;
#if PY_VERSION_HEX >= 0x030D0000
  const int found = PyObject_GetOptionalAttr(v, g_str_html, &html);
#else
  const int found = _PyObject_LookupAttr(v, g_str_html, &html);
#endif
  Py_XDECREF(html);
  return found;
}

// The compat document's tagflow tree, made on first need (a new reference). tagflow keeps a
// Markup value as it is, and its serializer escapes it through Markup's own str methods; only
// the tree can do that (in every output: HTML, XML, a live session's events).
PyObject* tree_of(DocumentObject* self) {
  if (self->tree != nullptr) return Py_NewRef(self->tree);
  if (g_tf_switch == nullptr) {
    PyErr_SetString(PyExc_RuntimeError, "tagflow_cpp.compat is not initialised");
    return nullptr;
  }
  return PyObject_CallOneArg(g_tf_switch, reinterpret_cast<PyObject*>(self));
}

// tree.open(name, klasses, kwargs): tag(name, *klasses, **kwargs) on the tree.
PyObject* tree_open(DocumentObject* self, PyObject* name, PyObject* const* klasses,
                    Py_ssize_t nklasses, PyObject* const* keys, PyObject* const* values,
                    Py_ssize_t nkw) {
  PyObject* tree = tree_of(self);
  if (tree == nullptr) return nullptr;
  PyObject* result = nullptr;
  PyObject* k = PyTuple_New(nklasses);
  PyObject* kw = PyDict_New();
  if (k != nullptr && kw != nullptr) {
    for (Py_ssize_t i = 0; i < nklasses; ++i) PyTuple_SET_ITEM(k, i, Py_NewRef(klasses[i]));
    bool ok = true;
    for (Py_ssize_t i = 0; i < nkw && ok; ++i) ok = PyDict_SetItem(kw, keys[i], values[i]) == 0;
    if (ok) result = PyObject_CallMethod(tree, "open", "OOO", name, k, kw);
  }
  Py_XDECREF(k);
  Py_XDECREF(kw);
  Py_DECREF(tree);
  return result;
}

// The attributes of one compat element in tagflow's dict order: a later duplicate replaces the
// earlier value in place. A few live on the stack; more spill to the heap.
class PendingAttrs {
 public:
  struct Attr {
    Piece name, value;
  };
  explicit PendingAttrs(std::size_t capacity) {
    if (capacity > kInline) {
      heap_.resize(capacity);
      items_ = heap_.data();
    }
  }
  void set(Piece name, Piece value, const std::string& scratch) {
    const std::string_view n = name.view(scratch);
    for (std::size_t i = 0; i < size_; ++i) {
      if (items_[i].name.view(scratch) == n) {
        items_[i].value = value;
        return;
      }
    }
    items_[size_++] = {name, value};
  }
  [[nodiscard]] const Attr* find(std::string_view name, const std::string& scratch) const {
    for (std::size_t i = 0; i < size_; ++i) {
      if (items_[i].name.view(scratch) == name) return &items_[i];
    }
    return nullptr;
  }
  [[nodiscard]] const Attr* begin() const noexcept { return items_; }
  [[nodiscard]] const Attr* end() const noexcept { return items_ + size_; }

 private:
  static constexpr std::size_t kInline = 8;
  Attr inline_[kInline];
  std::vector<Attr> heap_;
  Attr* items_ = inline_;
  std::size_t size_ = 0;
};

// One keyword attribute value by tagflow's rules, into `out` (borrowed or in `scratch`).
// False with `needs_tree` set (and no exception) for a Markup value, which only tagflow's tree
// serializes as tagflow does.
bool tagflow_value(PyObject* key, PyObject* v, bool class_merged, std::string& scratch, Piece& out,
                   bool& needs_tree) {
  if (v == Py_True) {  // tagflow: True -> empty value
    out = Piece::borrowed(std::string_view());
    return true;
  }
  if (PyUnicode_CheckExact(v)) {
    std::string_view s;
    if (!utf8(v, s)) return false;
    out = Piece::borrowed(s);
    return true;
  }
  const std::size_t from = scratch.size();
  if (PyUnicode_Check(v) && !class_merged) {
    const int html = has_html(v);
    if (html != 0) {
      needs_tree = html > 0;
      return false;
    }
  }
  if (PyUnicode_Check(v) || PyList_Check(v)) {
    if (!tagflow_strs(v, scratch)) return false;
  } else if (PyLong_Check(v) || PyFloat_Check(v)) {
    PyObject* s = PyObject_Str(v);
    if (s == nullptr) return false;
    std::string_view sv;
    const bool ok = utf8(s, sv);
    if (ok) scratch.append(sv);
    Py_DECREF(s);
    if (!ok) return false;
  } else {
    PyErr_Format(PyExc_TypeError,
                 "Attribute values must be strings, numbers, booleans, or lists. Got %R for "
                 "attribute '%U'",
                 reinterpret_cast<PyObject*>(Py_TYPE(v)), key);
    return false;
  }
  out = Piece::owned(scratch, from);
  return true;
}

// The class value of tag(name, *klasses, class_=...): strs(list(klasses) + [class] if class),
// appended to `scratch`.
bool tagflow_class_value(PyObject* const* klasses, Py_ssize_t nklasses, std::string_view existing,
                         std::string& scratch) {
  bool plain = true;  // every class an exact str: join the non-empty ones, no list needed
  for (Py_ssize_t i = 0; i < nklasses && plain; ++i) plain = PyUnicode_CheckExact(klasses[i]);
  if (plain) {
    bool first = true;
    for (Py_ssize_t i = 0; i < nklasses; ++i) {
      std::string_view s;
      if (!utf8(klasses[i], s)) return false;
      if (s.empty()) continue;
      if (!first) scratch.push_back(' ');
      first = false;
      scratch.append(s);
    }
    if (!existing.empty()) {
      if (!first) scratch.push_back(' ');
      scratch.append(existing);
    }
    return true;
  }
  PyObject* list = PyList_New(nklasses);
  if (list == nullptr) return false;
  for (Py_ssize_t i = 0; i < nklasses; ++i) PyList_SET_ITEM(list, i, Py_NewRef(klasses[i]));
  if (!existing.empty()) {
    PyObject* s =
        PyUnicode_FromStringAndSize(existing.data(), static_cast<Py_ssize_t>(existing.size()));
    if (s == nullptr || PyList_Append(list, s) < 0) {
      Py_XDECREF(s);
      Py_DECREF(list);
      return false;
    }
    Py_DECREF(s);
  }
  const bool ok = tagflow_strs(list, scratch);
  Py_DECREF(list);
  return ok;
}

// tag(name, *klasses, **kwargs) with tagflow's rules for values and class merging. `doc_obj`
// is the current document (None if there is none); keys/values are the keyword arguments.
// `kind` is the element's kind when the caller knows it and has validated the name (an opener
// does both once), else nullopt.
PyObject* tf_open_impl(PyObject* doc_obj, PyObject* name_obj, std::optional<ElementKind> known,
                       PyObject* const* klasses, Py_ssize_t nklasses, PyObject* const* keys,
                       PyObject* const* values, Py_ssize_t nkw) {
  if (doc_obj == Py_None) return no_compat_document();
  if (!PyObject_TypeCheck(doc_obj, g_document_type) || !PyUnicode_Check(name_obj)) {
    PyErr_SetString(PyExc_TypeError, "tag(): expected a Document and a str tag name");
    return nullptr;
  }
  DocumentObject* self = as_doc(doc_obj);
  if (self->tree != nullptr || inside_void(self)) [[unlikely]] {
    return tree_open(self, name_obj, klasses, nklasses, keys, values, nkw);
  }
  std::string_view name;
  if (!utf8(name_obj, name)) return nullptr;
  // Attributes first (no document change yet): tagflow's dict semantics.
  std::string scratch;  // converted names and values
  PendingAttrs attrs(static_cast<std::size_t>(nkw) + 1);
  for (Py_ssize_t i = 0; i < nkw; ++i) {
    PyObject* v = values[i];
    if (v == Py_None || v == Py_False) continue;
    Piece xml_name{};
    Piece value{};
    if (!tagflow_name(keys[i], scratch, xml_name)) return nullptr;
    const bool class_merged = nklasses > 0 && xml_name.view(scratch) == "class";
    bool needs_tree = false;
    if (!tagflow_value(keys[i], v, class_merged, scratch, value, needs_tree)) {
      if (!needs_tree) return nullptr;
      return tree_open(self, name_obj, klasses, nklasses, keys, values, nkw);
    }
    attrs.set(xml_name, value, scratch);
  }
  if (nklasses > 0) {
    const auto* existing = attrs.find("class", scratch);
    const std::size_t from = scratch.size();
    if (!tagflow_class_value(klasses, nklasses,
                             existing != nullptr ? existing->value.view(scratch) : "", scratch)) {
      return nullptr;
    }
    attrs.set(Piece::borrowed("class"), Piece::owned(scratch, from), scratch);
  }
  Enter enter(self);
  if (!enter) return nullptr;
  tagflow::Document& doc = *self->doc;
  const ElementKind kind = known ? *known : tagflow::element_kind(name, true);
  const auto mark = doc.checkpoint();
  try {
    if (!known) tagflow::validate_tag_name(name);
    doc.start_trusted(name, kind);
    for (const auto& a : attrs) {
      doc.attr_trusted(a.name.view(scratch), AttrValue(a.value.view(scratch)));
    }
  } catch (...) {
    return fail_and_undo(doc, mark);
  }
  if (kind == ElementKind::kVoid) {
    held_elsewhere(self->void_guard);
    if (self->void_guard == nullptr) {
      self->void_guard = new_guard(self, true);
      if (self->void_guard == nullptr) return nullptr;
    }
    self->void_guard->ordinal = doc.elements_written() - 1;
    return Py_NewRef(reinterpret_cast<PyObject*>(self->void_guard));
  }
  GuardObject* g = guard_for_top(self);
  if (g == nullptr) {
    doc.rollback(mark);
    return nullptr;
  }
  return Py_NewRef(reinterpret_cast<PyObject*>(g));
}

// The compat module's ContextVar holding the current document (bound once by _tf_bind).
PyObject* g_compat_var = nullptr;

// The current compat document, a new reference (None when no document is active).
PyObject* current_compat_doc() {
  if (g_compat_var == nullptr) {
    PyErr_SetString(PyExc_RuntimeError, "tagflow_cpp.compat is not initialised");
    return nullptr;
  }
  PyObject* value = nullptr;
  if (PyContextVar_Get(g_compat_var, Py_None, &value) < 0) return nullptr;
  return value;
}

PyObject* tf_bind(PyObject*, PyObject* var) {
  if (!PyContextVar_CheckExact(var)) {
    PyErr_SetString(PyExc_TypeError, "_tf_bind() takes a ContextVar");
    return nullptr;
  }
  Py_XSETREF(g_compat_var, Py_NewRef(var));
  Py_RETURN_NONE;
}

// _tf_bind_tree(switch, element): the compat module's tree hooks (see g_tf_switch).
PyObject* tf_bind_tree(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs != 2 || !PyCallable_Check(args[0]) || !PyCallable_Check(args[1])) {
    PyErr_SetString(PyExc_TypeError, "_tf_bind_tree(switch, element) takes two callables");
    return nullptr;
  }
  Py_XSETREF(g_tf_switch, Py_NewRef(args[0]));
  Py_XSETREF(g_tf_element, Py_NewRef(args[1]));
  Py_RETURN_NONE;
}

// tag.<name>: a callable bound to one tag name, calling straight into the engine (no Python
// frame per element).
struct OpenerObject {
  PyObject_HEAD PyObject* name;  // validated when the opener is made
  vectorcallfunc vectorcall;
  ElementKind kind;  // tagflow's kind of that name (etree's void elements included)
};

PyObject* opener_vectorcall(PyObject* op, PyObject* const* args, std::size_t nargsf,
                            PyObject* kwnames) {
  auto* self = reinterpret_cast<OpenerObject*>(op);
  const Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
  const Py_ssize_t nkw = kwnames == nullptr ? 0 : PyTuple_GET_SIZE(kwnames);
  PyObject* doc = current_compat_doc();
  if (doc == nullptr) return nullptr;
  PyObject* result =
      tf_open_impl(doc, self->name, self->kind, args, nargs,
                   nkw == 0 ? nullptr : &PyTuple_GET_ITEM(kwnames, 0), args + nargs, nkw);
  Py_DECREF(doc);
  return result;
}

PyObject* opener_new(PyTypeObject* type, PyObject* args, PyObject* kwds) {
  PyObject* name = nullptr;
  if (kwds != nullptr && PyDict_GET_SIZE(kwds) != 0) {
    PyErr_SetString(PyExc_TypeError, "_TagOpener(name) takes no keyword arguments");
    return nullptr;
  }
  if (!PyArg_ParseTuple(args, "U:_TagOpener", &name)) return nullptr;
  std::string_view sv;
  if (!utf8(name, sv)) return nullptr;
  try {
    tagflow::validate_tag_name(sv);
  } catch (...) {
    return set_error_from_exception();
  }
  auto* self = reinterpret_cast<OpenerObject*>(type->tp_alloc(type, 0));
  if (self == nullptr) return nullptr;
  self->name = Py_NewRef(name);
  self->vectorcall = opener_vectorcall;
  self->kind = tagflow::element_kind(sv, true);
  return reinterpret_cast<PyObject*>(self);
}

void opener_dealloc(PyObject* op) {
  auto* self = reinterpret_cast<OpenerObject*>(op);
  Py_XDECREF(self->name);
  PyTypeObject* type = Py_TYPE(op);
  type->tp_free(op);
  Py_DECREF(type);
}

PyObject* opener_repr(PyObject* op) {
  return PyUnicode_FromFormat("<tag.%U>", reinterpret_cast<OpenerObject*>(op)->name);
}

PyMemberDef opener_members[] = {
    {"__vectorcalloffset__", T_PYSSIZET, offsetof(OpenerObject, vectorcall), READONLY, nullptr},
    {"name", T_OBJECT, offsetof(OpenerObject, name), READONLY, "The tag name."},
    {nullptr, 0, 0, 0, nullptr}};

PyType_Slot opener_slots[] = {
    {Py_tp_new, reinterpret_cast<void*>(opener_new)},
    {Py_tp_dealloc, reinterpret_cast<void*>(opener_dealloc)},
    {Py_tp_call, reinterpret_cast<void*>(PyVectorcall_Call)},
    {Py_tp_repr, reinterpret_cast<void*>(opener_repr)},
    {Py_tp_members, opener_members},
    {Py_tp_doc, const_cast<char*>("tag.<name>(*classes, **attrs): opens that element in the "
                                  "current compat document (use with `with`).")},
    {0, nullptr}};

PyType_Spec opener_spec = {"tagflow_cpp._core._TagOpener", sizeof(OpenerObject), 0,
                           Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL, opener_slots};

PyTypeObject* g_opener_type = nullptr;

// compat's `tag`: tag.<name> is that element's opener, made on first use and kept, so a later
// tag.<name> is one dictionary lookup (a Python __getattr__ class would cost two type lookups
// and a slot wrapper per use); tag("div", ...) opens any name.
struct TagBuilderObject {
  PyObject_HEAD PyObject* openers;  // dict: name -> _TagOpener
  vectorcallfunc vectorcall;
};

PyObject* builder_getattro(PyObject* op, PyObject* name) {
  auto* self = reinterpret_cast<TagBuilderObject*>(op);
  if (PyUnicode_CheckExact(name)) {
#if PY_VERSION_HEX >= 0x030D0000
    PyObject* hit = nullptr;
    if (PyDict_GetItemRef(self->openers, name, &hit) != 0) return hit;  // found, or an error
#else
    PyObject* hit = PyDict_GetItemWithError(self->openers, name);
    if (hit != nullptr) return Py_NewRef(hit);
    if (PyErr_Occurred()) return nullptr;
#endif
  }
  PyObject* found = PyObject_GenericGetAttr(op, name);
  if (found != nullptr || !PyErr_ExceptionMatches(PyExc_AttributeError)) return found;
  // Dunder names stay missing (copy, pickle and IPython probe for them).
  if (!PyUnicode_Check(name) ||
      (PyUnicode_GetLength(name) >= 2 && PyUnicode_ReadChar(name, 0) == '_' &&
       PyUnicode_ReadChar(name, 1) == '_')) {
    return nullptr;
  }
  PyErr_Clear();
  PyObject* opener = PyObject_CallOneArg(reinterpret_cast<PyObject*>(g_opener_type), name);
  if (opener == nullptr) return nullptr;
#if PY_VERSION_HEX >= 0x030D0000
  PyObject* kept = nullptr;  // another thread may have made it first: use one opener
  if (PyDict_SetDefaultRef(self->openers, name, opener, &kept) < 0) {
    Py_DECREF(opener);
    return nullptr;
  }
  Py_DECREF(opener);
  return kept;
#else
  if (PyDict_SetItem(self->openers, name, opener) < 0) {
    Py_DECREF(opener);
    return nullptr;
  }
  return opener;
#endif
}

// tag(name, *classes, **attrs)
PyObject* builder_vectorcall(PyObject*, PyObject* const* args, std::size_t nargsf,
                             PyObject* kwnames) {
  const Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
  if (nargs < 1 || !PyUnicode_Check(args[0])) {
    PyErr_SetString(PyExc_TypeError, "tag(name: str, *classes, **attrs)");
    return nullptr;
  }
  const Py_ssize_t nkw = kwnames == nullptr ? 0 : PyTuple_GET_SIZE(kwnames);
  PyObject* doc = current_compat_doc();
  if (doc == nullptr) return nullptr;
  PyObject* result =
      tf_open_impl(doc, args[0], std::nullopt, args + 1, nargs - 1,
                   nkw == 0 ? nullptr : &PyTuple_GET_ITEM(kwnames, 0), args + nargs, nkw);
  Py_DECREF(doc);
  return result;
}

PyObject* builder_new(PyTypeObject* type, PyObject* args, PyObject* kwds) {
  if (PyTuple_GET_SIZE(args) != 0 || (kwds != nullptr && PyDict_GET_SIZE(kwds) != 0)) {
    PyErr_SetString(PyExc_TypeError, "HTMLTagBuilder() takes no arguments");
    return nullptr;
  }
  auto* self = reinterpret_cast<TagBuilderObject*>(type->tp_alloc(type, 0));
  if (self == nullptr) return nullptr;
  self->openers = PyDict_New();
  if (self->openers == nullptr) {
    Py_DECREF(self);
    return nullptr;
  }
  self->vectorcall = builder_vectorcall;
  return reinterpret_cast<PyObject*>(self);
}

void builder_dealloc(PyObject* op) {
  Py_XDECREF(reinterpret_cast<TagBuilderObject*>(op)->openers);
  PyTypeObject* type = Py_TYPE(op);
  type->tp_free(op);
  Py_DECREF(type);
}

PyMemberDef builder_members[] = {
    {"__vectorcalloffset__", T_PYSSIZET, offsetof(TagBuilderObject, vectorcall), READONLY, nullptr},
    {nullptr, 0, 0, 0, nullptr}};

PyType_Slot builder_slots[] = {
    {Py_tp_new, reinterpret_cast<void*>(builder_new)},
    {Py_tp_dealloc, reinterpret_cast<void*>(builder_dealloc)},
    {Py_tp_getattro, reinterpret_cast<void*>(builder_getattro)},
    {Py_tp_call, reinterpret_cast<void*>(PyVectorcall_Call)},
    {Py_tp_members, builder_members},
    {Py_tp_doc, const_cast<char*>("tagflow's `tag`: tag.div(*classes, **attrs) or "
                                  "tag(\"div\", ...) opens an element of the current compat "
                                  "document (use with `with`).")},
    {0, nullptr}};

PyType_Spec builder_spec = {"tagflow_cpp.compat.HTMLTagBuilder", sizeof(TagBuilderObject), 0,
                            Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL, builder_slots};

// tagflow's text(content) on the current compat document.
PyObject* tf_text(PyObject*, PyObject* content) {
  PyObject* doc = current_compat_doc();
  if (doc == nullptr) return nullptr;
  if (doc == Py_None) {
    Py_DECREF(doc);
    return no_compat_document();
  }
  if (!PyObject_TypeCheck(doc, g_document_type)) {
    Py_DECREF(doc);
    PyErr_SetString(PyExc_TypeError, "text(): the current compat document is not a Document");
    return nullptr;
  }
  DocumentObject* self = as_doc(doc);
  bool to_tree = self->tree != nullptr || inside_void(self);
  if (!to_tree && !PyUnicode_CheckExact(content) && content != Py_None &&
      !PyLong_CheckExact(content) && !PyFloat_CheckExact(content)) [[unlikely]] {
    const int found = has_html(content);  // Markup: tagflow keeps it as it is (see tree_of)
    if (found < 0) {
      Py_DECREF(doc);
      return nullptr;
    }
    to_tree = found > 0;
  }
  if (to_tree) [[unlikely]] {
    PyObject* tree = tree_of(self);
    Py_DECREF(doc);
    if (tree == nullptr) return nullptr;
    PyObject* result = PyObject_CallMethod(tree, "text", "(O)", content);
    Py_DECREF(tree);
    return result;
  }
  PyObject* result = document_text_impl(as_doc(doc), content);
  Py_DECREF(doc);
  return result;
}

// tagflow's attr(name, value): None/False remove, True -> "", else str(value).
PyObject* tf_attr(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs != 3 || !PyObject_TypeCheck(args[0], g_document_type) || !PyUnicode_Check(args[1])) {
    if (nargs == 3 && args[0] == Py_None) {
      PyErr_SetString(PyExc_LookupError,
                      "tagflow_cpp.compat: no document is active (use `with document():`)");
    } else {
      PyErr_SetString(PyExc_TypeError, "attr(name: str, value)");
    }
    return nullptr;
  }
  DocumentObject* self = as_doc(args[0]);
  if (self->tree != nullptr) return PyObject_CallMethod(self->tree, "attr", "OO", args[1], args[2]);
  std::string scratch;
  Piece piece{};
  if (!tagflow_name(args[1], scratch, piece)) return nullptr;
  const std::string_view name = piece.view(scratch);
  PyObject* v = args[2];
  PyObject* s = nullptr;
  if (v != Py_None && v != Py_False && v != Py_True) {
    s = PyObject_Str(v);
    if (s == nullptr) return nullptr;
  }
  Enter enter(self);
  if (!enter) {
    Py_XDECREF(s);
    return nullptr;
  }
  tagflow::Document& doc = *self->doc;
  try {
    if (v == Py_None || v == Py_False) {
      doc.remove_attr(name);
    } else if (v == Py_True) {
      doc.attr_trusted(name, AttrValue(std::string_view()));
    } else {
      std::string_view sv;
      if (!utf8(s, sv)) {
        Py_DECREF(s);
        return nullptr;
      }
      doc.attr_trusted(name, AttrValue(sv));
    }
  } catch (...) {
    Py_XDECREF(s);
    return set_error_from_exception();
  }
  Py_XDECREF(s);
  Py_RETURN_NONE;
}

// tagflow's classes(*names): existing value stripped, a space, strs(list(names)); no dedupe.
PyObject* tf_classes(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs != 2 || !PyObject_TypeCheck(args[0], g_document_type) || !PyTuple_Check(args[1])) {
    if (nargs == 2 && args[0] == Py_None) {
      PyErr_SetString(PyExc_LookupError,
                      "tagflow_cpp.compat: no document is active (use `with document():`)");
    } else {
      PyErr_SetString(PyExc_TypeError, "_tf_classes(doc, names: tuple)");
    }
    return nullptr;
  }
  DocumentObject* self = as_doc(args[0]);
  if (self->tree != nullptr) return PyObject_CallMethod(self->tree, "classes", "(O)", args[1]);
  std::string added;
  PyObject* list = PySequence_List(args[1]);
  if (list == nullptr) return nullptr;
  const bool ok = tagflow_strs(list, added);
  Py_DECREF(list);
  if (!ok) return nullptr;
  Enter enter(self);
  if (!enter) return nullptr;
  tagflow::Document& doc = *self->doc;
  try {
    if (!doc.accepts_attributes()) doc.classes("");  // throws the error naming the element
    std::string_view escaped;
    std::string current;
    if (doc.attr_value("class", escaped)) {
      // Undo the tagflow-mode escaping (& > " only) to get the value back.
      for (std::size_t i = 0; i < escaped.size();) {
        if (escaped.compare(i, 5, "&amp;") == 0) {
          current.push_back('&');
          i += 5;
        } else if (escaped.compare(i, 4, "&gt;") == 0) {
          current.push_back('>');
          i += 4;
        } else if (escaped.compare(i, 6, "&quot;") == 0) {
          current.push_back('"');
          i += 6;
        } else {
          current.push_back(escaped[i++]);
        }
      }
      const auto b = current.find_first_not_of(" \t\n\r\f\v");
      const auto e = current.find_last_not_of(" \t\n\r\f\v");
      current = b == std::string::npos ? std::string() : current.substr(b, e - b + 1);
    }
    if (!current.empty() && PyTuple_GET_SIZE(args[1]) > 0) current.push_back(' ');
    current.append(added);
    doc.attr_trusted("class", AttrValue(std::string_view(current)));
  } catch (...) {
    return set_error_from_exception();
  }
  Py_RETURN_NONE;
}

// compat's tree rendering: _tf_replay_open(doc, name, [(attr, value), ...]) writes the start tag
// with exactly these names (checked) and values (escaped); True when the element is open (close
// it with _tf_replay_close(doc)), False for a void element.
PyObject* tf_replay_open(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs != 3 || !PyObject_TypeCheck(args[0], g_document_type) || !PyUnicode_Check(args[1]) ||
      !PyList_Check(args[2])) {
    PyErr_SetString(PyExc_TypeError, "_tf_replay_open(doc, name: str, attrs: list)");
    return nullptr;
  }
  DocumentObject* self = as_doc(args[0]);
  std::string_view name;
  if (!utf8(args[1], name)) return nullptr;
  std::vector<std::pair<std::string_view, std::string_view>> attrs;
  for (Py_ssize_t i = 0; i < PyList_GET_SIZE(args[2]); ++i) {
    PyObject* item = PyList_GET_ITEM(args[2], i);
    std::pair<std::string_view, std::string_view> a;
    if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2 ||
        !PyUnicode_Check(PyTuple_GET_ITEM(item, 0)) ||
        !PyUnicode_Check(PyTuple_GET_ITEM(item, 1))) {
      PyErr_SetString(PyExc_TypeError, "_tf_replay_open(): attrs are (str, str) pairs");
      return nullptr;
    }
    if (!utf8(PyTuple_GET_ITEM(item, 0), a.first) || !utf8(PyTuple_GET_ITEM(item, 1), a.second)) {
      return nullptr;
    }
    if (!tagflow::is_valid_attr_name(a.first)) {
      PyErr_Format(PyExc_ValueError, "<%U>: invalid attribute name %R", args[1],
                   PyTuple_GET_ITEM(item, 0));
      return nullptr;
    }
    attrs.push_back(a);
  }
  Enter enter(self);
  if (!enter) return nullptr;
  tagflow::Document& doc = *self->doc;
  const ElementKind kind = tagflow::element_kind(name, true);
  const auto mark = doc.checkpoint();
  try {
    tagflow::validate_tag_name(name);
    doc.start_trusted(name, kind);
    for (const auto& [k, v] : attrs) doc.attr_trusted(k, AttrValue(v));
  } catch (...) {
    return fail_and_undo(doc, mark);
  }
  return PyBool_FromLong(kind != ElementKind::kVoid);
}

PyObject* tf_replay_close(PyObject*, PyObject* doc_obj) {
  if (!PyObject_TypeCheck(doc_obj, g_document_type)) {
    PyErr_SetString(PyExc_TypeError, "_tf_replay_close(doc)");
    return nullptr;
  }
  return simple_call(doc_obj, [](tagflow::Document& d) { d.end(); });
}

// ---------------------------------------------------------------------------------------------
// Type and module definitions
// ---------------------------------------------------------------------------------------------

std::vector<PyMethodDef>* build_methods() {
  auto* defs = new std::vector<PyMethodDef>();
  static std::vector<std::string> names;  // storage for generated method names
  names.reserve(kTagCount);
  auto fast = [](auto f) { return reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(f)); };
  defs->push_back({"tag", fast(document_tag), METH_FASTCALL | METH_KEYWORDS,
                   "tag(name, text=..., /, **attrs): open any element (or write a leaf)."});
  defs->push_back({"text", fast(document_text), METH_FASTCALL,
                   "text(value): escaped text; str, int, float; None writes nothing; __html__ "
                   "objects are inserted as markup."});
  defs->push_back({"raw", document_raw, METH_O, "raw(html): insert markup as is."});
  defs->push_back({"script_json", fast(document_script_json), METH_FASTCALL | METH_KEYWORDS,
                   "script_json(value, /, **attrs): <script> holding JSON, escaped so that no "
                   "value can end the script (a str is JSON text; anything else goes through "
                   "json.dumps)."});
  defs->push_back({"attr", fast(document_attr), METH_FASTCALL,
                   "attr(name, value): set an attribute of the element just opened."});
  defs->push_back({"classes", fast(document_classes), METH_FASTCALL,
                   "classes(*names): add class names to the element just opened."});
  defs->push_back({"doctype", document_doctype, METH_NOARGS, "doctype(): <!doctype html>."});
  defs->push_back({"render", document_render, METH_NOARGS,
                   "render() -> str: the HTML; ValueError naming any unclosed tags."});
  defs->push_back(
      {"clear", document_clear, METH_NOARGS, "clear(): empty the document to reuse it."});
  defs->push_back({"stream_to",
                   reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(document_stream_to)),
                   METH_VARARGS | METH_KEYWORDS,
                   "stream_to(write, threshold=65536): hand finished output to write(str) "
                   "whenever more than threshold bytes are ready."});
  defs->push_back({"finish", document_finish, METH_NOARGS,
                   "finish(): hand the rest to the sink; ValueError naming any unclosed tags."});
  defs->push_back({"clear_content", document_clear_content, METH_NOARGS,
                   "clear_content(): remove what was written inside the innermost open element."});
  for (std::size_t i = 0; i < kTagCount; ++i) {
    names.push_back(python_method_name(kTags[i].ident));
    defs->push_back({names.back().c_str(),
                     reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(kTagFunctions[i])),
                     METH_FASTCALL | METH_KEYWORDS, nullptr});
  }
  defs->push_back({nullptr, nullptr, 0, nullptr});
  return defs;
}

PyGetSetDef document_getset[] = {
    {"open_tags", document_open_tags, nullptr, "Names of the open elements, outermost first.",
     nullptr},
    {"elements", document_elements, nullptr, "Number of elements written since the last clear().",
     nullptr},
    {"compat", document_compat, nullptr, "True for a tagflow 0.12.0-compatible document.", nullptr},
    {"_tree", document_get_tree, document_set_tree, "compat: tagflow's element tree, once made.",
     nullptr},
    {"_removed", document_removed, nullptr,
     "compat: [first, last) ordinals of the elements clear_content() removed.", nullptr},
    {"_open_serials", document_open_serials, nullptr,
     "compat: the engine's numbers of the open elements, outermost first.", nullptr},
    {"_partial", document_partial, nullptr,
     "The output so far, open elements unclosed (render() refuses them).", nullptr},
    {"_entered_void", document_entered_void, nullptr,
     "compat: the void element whose `with` block is active, if any.", nullptr},
    {"_in_raw_text", document_in_raw_text, nullptr,
     "Whether text written now lands in raw text (script, style, xmp, ...).", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr}};

PyMemberDef document_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(DocumentObject, weakrefs), READONLY, nullptr},
    {nullptr, 0, 0, 0, nullptr}};

PyObject* kernel_name(PyObject*, PyObject*) {
  return PyUnicode_FromString(tagflow::escape::kernel_name(tagflow::escape::active_kernel()));
}

PyMethodDef module_methods[] = {
    {"_tf_attr", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(tf_attr)),
     METH_FASTCALL, nullptr},
    {"_tf_classes", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(tf_classes)),
     METH_FASTCALL, nullptr},
    {"_tf_bind", tf_bind, METH_O, nullptr},
    {"_tf_bind_tree", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(tf_bind_tree)),
     METH_FASTCALL, nullptr},
    {"_tf_replay_open", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(tf_replay_open)),
     METH_FASTCALL, nullptr},
    {"_tf_replay_close", tf_replay_close, METH_O, nullptr},
    {"_tf_text", tf_text, METH_O, "text(content): escaped text in the current compat document."},
    {"escape_kernel", kernel_name, METH_NOARGS,
     "The SIMD kernel the escaper uses on this CPU: 'avx2', 'sse2' or 'scalar'."},
    {nullptr, nullptr, 0, nullptr}};

int module_exec(PyObject* m) {
  g_str_html = PyUnicode_InternFromString("__html__");
  if (g_str_html == nullptr) return -1;

  static std::vector<PyMethodDef>* methods = build_methods();
  static PyType_Slot doc_slots[] = {
      {Py_tp_new, reinterpret_cast<void*>(document_new)},
      {Py_tp_init, reinterpret_cast<void*>(document_init)},
      {Py_tp_dealloc, reinterpret_cast<void*>(document_dealloc)},
      {Py_tp_traverse, reinterpret_cast<void*>(document_traverse)},
      {Py_tp_clear, reinterpret_cast<void*>(document_clear_refs)},
      {Py_tp_str, reinterpret_cast<void*>(document_str)},
      {Py_tp_methods, methods->data()},
      {Py_tp_getset, document_getset},
      {Py_tp_members, document_members},
      {Py_tp_doc,
       const_cast<char*>("Document(*, compat=False): an HTML document written into one buffer.\n\n"
                         "with doc.div(class_=\"card\"):  # one method per HTML element\n"
                         "    doc.h2(title)              # leaf: the whole element at once\n"
                         "html = doc.render()")},
      {0, nullptr}};
  static PyType_Spec doc_spec = {"tagflow_cpp._core.Document", sizeof(DocumentObject), 0,
                                 Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
                                 doc_slots};
  g_document_type = reinterpret_cast<PyTypeObject*>(PyType_FromSpec(&doc_spec));
  if (g_document_type == nullptr) return -1;
  g_guard_type = reinterpret_cast<PyTypeObject*>(PyType_FromSpec(&guard_spec));
  if (g_guard_type == nullptr || add_guard_methods() < 0) return -1;
  g_opener_type = reinterpret_cast<PyTypeObject*>(PyType_FromSpec(&opener_spec));
  if (g_opener_type == nullptr ||
      PyModule_AddObjectRef(m, "_TagOpener", reinterpret_cast<PyObject*>(g_opener_type)) < 0) {
    return -1;
  }
  PyObject* builder_type = PyType_FromSpec(&builder_spec);
  if (builder_type == nullptr) return -1;
  const int added = PyModule_AddObjectRef(m, "_TagBuilder", builder_type);
  Py_DECREF(builder_type);
  if (added < 0) return -1;
  auto* leaf_type = reinterpret_cast<PyTypeObject*>(PyType_FromSpec(&leaf_spec));
  if (leaf_type == nullptr) return -1;
  g_leaf_result = PyObject_CallNoArgs(reinterpret_cast<PyObject*>(leaf_type));
  if (g_leaf_result == nullptr) return -1;
  if (PyModule_AddObjectRef(m, "Document", reinterpret_cast<PyObject*>(g_document_type)) < 0 ||
      PyModule_AddObjectRef(m, "Element", reinterpret_cast<PyObject*>(g_guard_type)) < 0 ||
      PyModule_AddObjectRef(m, "Written", reinterpret_cast<PyObject*>(leaf_type)) < 0) {
    return -1;
  }
  Py_DECREF(leaf_type);
  PyObject* names = PyTuple_New(static_cast<Py_ssize_t>(kTagCount));
  PyObject* voids = PyFrozenSet_New(nullptr);
  if (names == nullptr || voids == nullptr) return -1;
  for (std::size_t i = 0; i < kTagCount; ++i) {
    PyObject* s = PyUnicode_FromString(kTags[i].name);
    if (s == nullptr) return -1;
    if (kTags[i].kind == ElementKind::kVoid && PySet_Add(voids, s) < 0) return -1;
    PyTuple_SET_ITEM(names, static_cast<Py_ssize_t>(i), s);
  }
  const int rc = (PyModule_AddObjectRef(m, "ELEMENTS", names) < 0 ||
                  PyModule_AddObjectRef(m, "VOID_ELEMENTS", voids) < 0)
                     ? -1
                     : 0;
  Py_DECREF(names);
  Py_DECREF(voids);
  return rc;
}

// Free-threaded CPython (3.13t): the module runs without the GIL. Its shared state is set once
// while the module is imported (types, interned names, the element tables) or while
// tagflow_cpp.compat is imported (the context variable and Markup hooks, under the import
// lock); everything else is per document, whose `owner` and atomic `busy` keep one thread in
// it at a time.
PyModuleDef_Slot module_slots[] = {{Py_mod_exec, reinterpret_cast<void*>(module_exec)},
#if PY_VERSION_HEX >= 0x030D0000  // from 3.13; ignored where the GIL is on
                                   {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
                                   {0, nullptr}};

PyModuleDef module_def = {PyModuleDef_HEAD_INIT,
                          "tagflow_cpp._core",
                          "The C++ engine of tagflow_cpp (CPython C API binding).",
                          0,
                          module_methods,
                          module_slots,
                          nullptr,
                          nullptr,
                          nullptr};

}  // namespace

PyMODINIT_FUNC PyInit__core() {
  return PyModuleDef_Init(&module_def);
}
