"""XLSX files read in openpyxl's read-only mode in constant memory.

Two things openpyxl does are undone here, both measured on a million-row import.

Sizing: when openpyxl opens a read-only workbook it sizes each sheet by reading the sheet's XML up to its
<dimension> element, but gives up only at the *end* of <sheetData>. A file that declares no dimension
(openpyxl's own write-only files and many other generators) is therefore parsed in full before its
first row is read: a million-row import paid for a second full parse and about 80 MB of extra peak
memory. Here the search stops at the *start* of <sheetData>. A sheet without a dimension keeps
max_row None, which iter_rows handles by reading to the last row; `importing.Table.count_rows`
counts such a sheet by scanning its bytes.

Rows: openpyxl's sheet parser clears each row element once read but leaves it attached to
<sheetData>, and keeps the attributes of every row that has a height or a style; both stay until the
last row, about 60 bytes a row (60 MB for a million rows). `sheet_rows` parses the cells with
openpyxl's own cell parser (types, shared strings, dates) and drops every row once read."""

from __future__ import annotations

from collections.abc import Iterator

import openpyxl
from openpyxl.worksheet._read_only import ReadOnlyWorksheet
from openpyxl.worksheet._reader import DATA_TAG, DIMENSION_TAG, ROW_TAG, WorkSheetParser
from openpyxl.worksheet.dimensions import SheetDimension
from openpyxl.xml.functions import iterparse


def _size_from_head(sheet: ReadOnlyWorksheet) -> None:
    with sheet._get_source() as source:
        for _event, element in iterparse(source, events=("start",)):  # attributes are complete at "start"
            if element.tag == DIMENSION_TAG:
                sheet._min_column, sheet._min_row, sheet._max_column, sheet._max_row = SheetDimension.from_tree(element).boundaries
                return
            if element.tag == DATA_TAG:
                return


# openpyxl calls this from ReadOnlyWorksheet.__init__; replaced for the whole process, which reads
# XLSX only through here (tests pin the behaviour for files with and without a dimension).
ReadOnlyWorksheet._get_size = _size_from_head


def open_read_only(path):
    return openpyxl.load_workbook(path, read_only=True, data_only=True)


def sheet_rows(workbook) -> Iterator[tuple]:
    """The first sheet's rows as tuples of cell values, like `iter_rows(values_only=True)`: a missing
    row comes as an empty tuple, a missing cell as None."""
    sheet = workbook.worksheets[0]
    with sheet._get_source() as source:
        parser = WorkSheetParser(source, sheet._shared_strings, data_only=workbook.data_only, epoch=workbook.epoch,
                                 date_formats=workbook._date_formats, timedelta_formats=workbook._timedelta_formats)  # fmt: skip
        data = None
        expected = 1
        for event, element in iterparse(source, events=("start", "end")):
            if event == "start":
                if element.tag == DATA_TAG:
                    data = element
                continue
            if element.tag != ROW_TAG:
                continue
            number, cells = parser.parse_row(element)
            if data is not None:
                data.clear()  # the row just read is its only child
            parser.row_dimensions.clear()
            while expected < number:
                yield ()
                expected += 1
            values = [None] * max((cell["column"] for cell in cells), default=0)
            for cell in cells:
                values[cell["column"] - 1] = cell["value"]
            yield tuple(values)
            expected = number + 1
