"""The text of a certified copy PDF, as a viewer's copy-and-paste gives it.

Not ``page.extract_text()``: fpdf2 gives its CID-keyed CFF font an embedded code→CID
CMap as /Encoding, which pypdf reads as a one-byte encoding and so interleaves NULs.
Decoding the two-byte codes through the font's ToUnicode map is exact. (The same
helpers as in tests/services/municipal/copies/test_copy_document.py, shared by the
nationwide-copy tests.)
"""

from __future__ import annotations

import io
import re
from typing import Any

from pypdf import PageObject, PdfReader
from pypdf.generic import ContentStream, TextStringObject

__all__ = ["page_lines", "read", "text_of"]


def _to_unicode(font: Any) -> dict[bytes, str]:
    """Code → text from a font's ToUnicode CMap (fpdf2 writes only bfchar entries)."""
    cmap = font["/ToUnicode"].get_object().get_data().decode("latin-1")
    pairs = re.findall(r"<([0-9A-F]{4})> <([0-9A-F]+)>", cmap)
    return {bytes.fromhex(code): bytes.fromhex(text).decode("utf-16-be") for code, text in pairs}


def _decode(raw: bytes, codes: dict[bytes, str]) -> str:
    return "".join(codes[raw[i : i + 2]] for i in range(0, len(raw), 2))


def _raw(operand: Any) -> bytes:
    return operand.original_bytes if isinstance(operand, TextStringObject) else bytes(operand)


def fonts_of(page: PageObject) -> Any:
    resources: Any = page["/Resources"]
    return resources["/Font"]


def page_lines(page: PageObject) -> list[str]:
    """The text of each BT…ET block on the page, in drawing order."""
    fonts = {name: _to_unicode(ref.get_object()) for name, ref in fonts_of(page).items()}
    lines: list[str] = []
    line = ""
    codes: dict[bytes, str] = {}
    for operands, operator in ContentStream(page.get_contents(), page.pdf).operations:
        if operator == b"Tf":
            codes = fonts[operands[0]]
        elif operator == b"Tj":
            line += _decode(_raw(operands[0]), codes)
        elif operator == b"TJ":
            parts = [item for item in operands[0] if not isinstance(item, int | float)]
            line += "".join(_decode(_raw(part), codes) for part in parts)
        elif operator == b"ET" and line:
            lines.append(line)
            line = ""
    return lines


def read(pdf: bytes) -> PdfReader:
    return PdfReader(io.BytesIO(pdf))


def text_of(pdf: bytes) -> str:
    """Every line of every page, one per line."""
    return "\n".join(line for page in read(pdf).pages for line in page_lines(page))
