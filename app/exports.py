"""Files the app writes for spreadsheets: every cell made safe for Excel and WPS."""

# A cell starting with one of these is read as a formula (or a DDE command) by spreadsheets.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")


def safe_cell(value):
    """A cell's text that a spreadsheet shows as text: one starting like a formula gets a
    leading apostrophe (Excel's own mark for "this is text", not shown in the cell)."""
    if value is None:
        return ""
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def safe_row(values):
    """A row of safe cells."""
    return [safe_cell(value) for value in values]
