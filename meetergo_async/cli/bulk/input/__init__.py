"""The bulk command's input: where its lines come from, and the rows they make.

``LineSource`` is the file or stdin (``_lines``); ``records`` reads it as JSON Lines or CSV
into one ``Entry`` per row (``_rows``), each checked in the words of JSON (``_fields``).
"""

from ._fields import FIELDS
from ._lines import STDIN, LineSource
from ._rows import Entry, count_records, records

__all__ = ["FIELDS", "STDIN", "Entry", "LineSource", "count_records", "records"]
