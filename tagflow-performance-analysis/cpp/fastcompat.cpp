// The idea tried on tagflow_cpp.compat: its per-element dispatch in C instead of Python.
//
// tagflow_cpp.compat implements `tag.<name>(...)` and `text(...)` as Python functions that read
// the current document from a ContextVar and call the engine. Here the same two entry points are
// C objects: an Opener per tag name (vectorcall, reads the ContextVar itself, packs positional
// classes and keyword attributes, calls tagflow_cpp._core._tf_open) and a `text` function. No
// Python frame runs per element; the engine, the ContextVar and the semantics are unchanged.
//
// Built at run time by tagflow_analysis.fastcompat (see there); not part of tagflow_cpp.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <cstddef>

namespace {

PyObject* g_var = nullptr;        // the ContextVar holding the current Document (or None)
PyObject* g_tf_open = nullptr;    // tagflow_cpp._core._tf_open(doc, name, klasses, kwargs)
PyObject* g_text_name = nullptr;  // interned "text"

struct Opener {
  PyObject ob_base;  // PyObject_HEAD
  vectorcallfunc vectorcall;
  PyObject* name;
};

PyObject* current_document() {
  if (g_var == nullptr) {
    PyErr_SetString(PyExc_RuntimeError, "fastcompat.setup() was not called");
    return nullptr;
  }
  PyObject* doc = nullptr;
  if (PyContextVar_Get(g_var, Py_None, &doc) < 0) return nullptr;
  return doc;  // new reference (None when no document is active)
}

PyObject* opener_vectorcall(PyObject* self, PyObject* const* args, size_t nargsf,
                            PyObject* kwnames) {
  auto* op = reinterpret_cast<Opener*>(self);
  const Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
  PyObject* doc = current_document();
  if (doc == nullptr) return nullptr;
  PyObject* klasses = PyTuple_New(nargs);
  PyObject* kwargs = PyDict_New();
  PyObject* result = nullptr;
  if (klasses != nullptr && kwargs != nullptr) {
    for (Py_ssize_t i = 0; i < nargs; ++i) {
      Py_INCREF(args[i]);
      PyTuple_SET_ITEM(klasses, i, args[i]);
    }
    const Py_ssize_t nkw = kwnames == nullptr ? 0 : PyTuple_GET_SIZE(kwnames);
    bool ok = true;
    for (Py_ssize_t i = 0; i < nkw && ok; ++i) {
      ok = PyDict_SetItem(kwargs, PyTuple_GET_ITEM(kwnames, i), args[nargs + i]) == 0;
    }
    if (ok) {
      PyObject* call[4] = {doc, op->name, klasses, kwargs};
      result = PyObject_Vectorcall(g_tf_open, call, 4, nullptr);
    }
  }
  Py_XDECREF(kwargs);
  Py_XDECREF(klasses);
  Py_DECREF(doc);
  return result;
}

PyObject* opener_new(PyTypeObject* type, PyObject* args, PyObject* kwds) {
  PyObject* name = nullptr;
  static const char* kwlist[] = {"name", nullptr};
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "U:Opener", const_cast<char**>(kwlist), &name)) {
    return nullptr;
  }
  auto* op = reinterpret_cast<Opener*>(type->tp_alloc(type, 0));
  if (op == nullptr) return nullptr;
  op->vectorcall = opener_vectorcall;
  Py_INCREF(name);
  op->name = name;
  return reinterpret_cast<PyObject*>(op);
}

void opener_dealloc(PyObject* self) {
  auto* op = reinterpret_cast<Opener*>(self);
  Py_XDECREF(op->name);
  Py_TYPE(self)->tp_free(self);
}

PyObject* opener_repr(PyObject* self) {
  return PyUnicode_FromFormat("<fastcompat tag.%U>", reinterpret_cast<Opener*>(self)->name);
}

PyTypeObject g_opener_type = {
    PyVarObject_HEAD_INIT(nullptr, 0)  // NOLINT
};

PyObject* text(PyObject*, PyObject* content) {
  PyObject* doc = current_document();
  if (doc == nullptr) return nullptr;
  if (doc == Py_None) {
    Py_DECREF(doc);
    PyErr_SetString(PyExc_LookupError,
                    "tagflow_cpp.compat: no document is active (use `with document():`)");
    return nullptr;
  }
  PyObject* call[2] = {doc, content};
  PyObject* result = PyObject_VectorcallMethod(
      g_text_name, call, 2 | static_cast<size_t>(PY_VECTORCALL_ARGUMENTS_OFFSET), nullptr);
  Py_DECREF(doc);
  return result;
}

PyObject* setup(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs != 2 || !PyContextVar_CheckExact(args[0]) || !PyCallable_Check(args[1])) {
    PyErr_SetString(PyExc_TypeError, "setup(contextvar: ContextVar, tf_open: callable)");
    return nullptr;
  }
  Py_INCREF(args[0]);
  Py_XSETREF(g_var, args[0]);
  Py_INCREF(args[1]);
  Py_XSETREF(g_tf_open, args[1]);
  Py_RETURN_NONE;
}

PyMethodDef g_methods[] = {
    {"setup", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(setup)), METH_FASTCALL,
     "setup(contextvar, tf_open): where the current document lives and how to open elements"},
    {"text", text, METH_O, "text(content): escaped text into the current element"},
    {nullptr, nullptr, 0, nullptr},
};

PyModuleDef g_module = {
    PyModuleDef_HEAD_INIT,
    "_tagflow_analysis_fastcompat",
    "tagflow_cpp.compat's tag/text dispatch in C (an experiment of tagflow-performance-analysis)",
    -1,
    g_methods,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
};

}  // namespace

PyMODINIT_FUNC PyInit__tagflow_analysis_fastcompat() {
  g_opener_type.tp_name = "_tagflow_analysis_fastcompat.Opener";
  g_opener_type.tp_basicsize = sizeof(Opener);
  g_opener_type.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL;
  g_opener_type.tp_vectorcall_offset = offsetof(Opener, vectorcall);
  g_opener_type.tp_call = PyVectorcall_Call;
  g_opener_type.tp_new = opener_new;
  g_opener_type.tp_dealloc = opener_dealloc;
  g_opener_type.tp_repr = opener_repr;
  g_opener_type.tp_doc = "Opener(name): tag.<name>(*classes, **attrs) in C";
  if (PyType_Ready(&g_opener_type) < 0) return nullptr;
  g_text_name = PyUnicode_InternFromString("text");
  if (g_text_name == nullptr) return nullptr;
  PyObject* m = PyModule_Create(&g_module);
  if (m == nullptr) return nullptr;
  Py_INCREF(&g_opener_type);
  if (PyModule_AddObject(m, "Opener", reinterpret_cast<PyObject*>(&g_opener_type)) < 0) {
    Py_DECREF(&g_opener_type);
    Py_DECREF(m);
    return nullptr;
  }
  return m;
}
