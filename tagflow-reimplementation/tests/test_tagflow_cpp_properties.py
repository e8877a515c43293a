"""Property test: whatever the text and attribute values, html.parser reads back exactly them."""

from __future__ import annotations

from html.parser import HTMLParser

from hypothesis import given, settings
from hypothesis import strategies as st
from tagflow_cpp import Document

# Python's str minus lone surrogates (which the binding rejects) and carriage returns/NUL
# (which the HTML parser normalises, so they cannot round-trip by definition of HTML).
chars = st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\x00")
texts = st.text(chars, max_size=60)


class Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.data: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.attrs.extend(attrs)

    def handle_data(self, data: str) -> None:
        self.data.append(data)


@settings(max_examples=300, deadline=None)
@given(body=texts, title=texts, other=texts)
def test_tagflow_cpp_html_parser_reads_back_text_and_attributes(
    body: str, title: str, other: str
) -> None:
    doc = Document()
    with doc.div(title=title, data_other=other):
        doc.text(body)
    p = Collect()
    p.feed(doc.render())
    p.close()
    assert "".join(p.data) == body
    assert p.attrs == [("title", title), ("data-other", other)]


@settings(max_examples=200, deadline=None)
@given(items=st.lists(texts, max_size=5))
def test_tagflow_cpp_html_parser_reads_back_leaf_elements(items: list[str]) -> None:
    doc = Document()
    with doc.ul():
        for item in items:
            doc.li(item)
    p = Collect()
    p.feed(doc.render())
    p.close()
    assert "".join(p.data) == "".join(items)
