"""Streamed spreadsheet exports: memory stays flat however many rows are written.

Rows are written into an openpyxl write-only workbook backed by a temporary file, fed from a
queryset `.iterator(chunk_size=…)`; the response then streams that file and removes it when done.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

from django.conf import settings
from django.http import FileResponse

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Characters XML 1.0 (and so XLSX) cannot hold; openpyxl refuses a cell containing one.
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def safe_cell(sheet, value):
    """A cell value fit for XLSX. Text starting with "=" would become a formula in openpyxl; user text
    stays text."""
    if isinstance(value, str):
        value = _ILLEGAL.sub("", value)
        if value.startswith("="):
            from openpyxl.cell import WriteOnlyCell

            cell = WriteOnlyCell(sheet, value=value)
            cell.data_type = "s"
            return cell
    return value


class XlsxWriter:
    """A write-only workbook with one sheet: `append(row)` as often as needed, then close/exit."""

    def __init__(self, path: str | os.PathLike, *, title: str = "Sheet1"):
        from openpyxl import Workbook

        self.path = Path(path)
        self.rows = 0
        self._book = Workbook(write_only=True)
        self._sheet = self._book.create_sheet(title=title[:31])

    def append(self, values: Iterable) -> None:
        self._sheet.append([safe_cell(self._sheet, v) for v in values])
        self.rows += 1

    def close(self) -> None:
        if self._book is not None:
            self._book.save(self.path)
            self._book = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self._book = None
            self.path.unlink(missing_ok=True)


def temp_path(suffix: str = ".xlsx") -> Path:
    directory = Path(settings.VAR_DIR) / "tmp"
    directory.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(suffix=suffix, dir=directory)
    os.close(handle)
    return Path(name)


def write_xlsx(path: str | os.PathLike, header: list[str], rows: Iterable[Iterable], *, title: str = "Sheet1") -> int:
    """Writes header + rows to `path`; returns the number of data rows written."""
    with XlsxWriter(path, title=title) as writer:
        writer.append(header)
        for row in rows:
            writer.append(row)
    return writer.rows - 1


def file_download(path: str | os.PathLike, filename: str, *, delete: bool = False) -> FileResponse:
    """A streamed download of `path`. With delete=True the file is unlinked once opened: the open
    handle keeps the data readable until the response is closed, and nothing is left behind."""
    handle = open(path, "rb")
    if delete:
        os.unlink(path)
    content_type = XLSX_CONTENT_TYPE if str(filename).endswith(".xlsx") else None
    return FileResponse(handle, as_attachment=True, filename=filename, content_type=content_type)
