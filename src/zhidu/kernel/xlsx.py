"""XLSX files opened in openpyxl's read-only mode without its sizing pass.

When openpyxl opens a read-only workbook it sizes each sheet by reading the sheet's XML up to its
<dimension> element, but gives up only at the *end* of <sheetData>. A file that declares no dimension
(openpyxl's own write-only files and many other generators) is therefore parsed in full before its
first row is read: a million-row import paid for a second full parse and about 80 MB of extra peak
memory. Here the search stops at the *start* of <sheetData>. A sheet without a dimension keeps
max_row None, which iter_rows handles by reading to the last row; `importing.Table.count_rows`
counts such a sheet by scanning its bytes."""

from __future__ import annotations

import openpyxl
from openpyxl.worksheet._read_only import ReadOnlyWorksheet
from openpyxl.worksheet._reader import DATA_TAG, DIMENSION_TAG
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
