"""tagflow_cpp: HTML with tagflow's context-manager syntax, written by a C++20 engine.

>>> from tagflow_cpp import Document
>>> doc = Document()
>>> with doc.ul(class_="menu"):
...     doc.li("Home & away", data_id=1)
>>> doc.render()
'<ul class="menu"><li data-id="1">Home &amp; away</li></ul>'

``Document`` has one method per HTML element (``doc.div``, ``doc.td``, ... see
``ELEMENTS``); ``doc.tag(name, ...)`` opens any other. The module ``tagflow_cpp.compat`` is a
drop-in for tagflow 0.12.0's module API.
"""

from tagflow_cpp._core import ELEMENTS, VOID_ELEMENTS, Document, Element, Written, escape_kernel

__all__ = ["ELEMENTS", "VOID_ELEMENTS", "Document", "Element", "Written", "escape_kernel"]
__version__ = "0.1.0"
