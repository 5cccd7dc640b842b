"""How a table reads, in a notebook and in reports/*.md: a missing value is "–", never ``NaN``; a float to four
significant digits (two float paths that agree to the shown precision show the same table: ``make test``
compares them); a response is never cut.

:func:`display_defaults` — called by every notebook's parameter check (:func:`ntlib.run.params.check`) and
by the ``ntlib`` kernel at start-up — shows every DataFrame a cell returns this way (HTML and plain text);
:func:`markdown` is what reports/*.md and tables.md are written with. The CSV/JSON results keep every digit.
"""
from __future__ import annotations

import math
import numbers

import pandas as pd

MISSING = "–"
SIGNIFICANT = 4      # digits a notebook shows of a float in a table: what a reader can use, and no float noise


def significant(x, digits: int = SIGNIFICANT) -> str:
    """``x`` with ``digits`` significant digits, in plain notation from 0.001 to 10^6 (``181.6``,
    ``0.01230``, ``12346``) and scientific outside (``3.24e-05``); NaN as "–"."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return MISSING
    if x == 0 or isinstance(x, bool):
        return str(x) if isinstance(x, bool) else "0"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    mag = math.floor(math.log10(abs(x)))
    if not -3 <= mag < 6:
        return f"{x:.{digits - 1}e}"
    return f"{x:.{max(0, digits - 1 - mag)}f}"


def number(x) -> str:
    """One cell: "–" for a missing value (None, NaN, NaT), an integer as it is, a float by :func:`significant`,
    anything else as text."""
    if x is None or x is pd.NaT or (isinstance(x, float) and math.isnan(x)):
        return MISSING
    if isinstance(x, bool) or not isinstance(x, numbers.Number):
        return str(x)
    if isinstance(x, numbers.Integral):
        return str(int(x))
    return significant(float(x))


def markdown(df: pd.DataFrame) -> str:
    """``df`` as a markdown table with missing values shown as "–" (numbers as pandas/tabulate print
    them, so reports keep the digits they always had)."""
    return df.astype(object).where(df.notna(), None).to_markdown(missingval=MISSING)


def _label(x):
    return tuple(number(v) for v in x) if isinstance(x, tuple) else number(x)


def _shown(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with every cell and index label as :func:`number` writes it (strings stay as they are)."""
    shown = df.map(number)
    shown.index = df.index.map(_label)
    return shown


def html(df: pd.DataFrame) -> str:
    """``df`` as the HTML a notebook shows: :func:`number` for every cell, whole (pandas would cut a response
    after 50 characters with "…"; the browser wraps it instead)."""
    with pd.option_context("display.max_colwidth", None):
        return _shown(df).to_html(na_rep=MISSING)


def plain(df: pd.DataFrame) -> str:
    """The plain-text twin of :func:`html` (what nbval and an untrusted notebook read), also uncut."""
    with pd.option_context("display.max_colwidth", None):
        return _shown(df).to_string(na_rep=MISSING)


def display_defaults(ip=None) -> None:
    """Show floats by :func:`significant` in every pandas table and DataFrames with :func:`html` /
    :func:`plain` in this IPython (the running kernel's by default; outside IPython only the former)."""
    pd.set_option("display.float_format", significant)
    if ip is None:
        from IPython import get_ipython
        ip = get_ipython()
    if ip is None:
        return
    formatters = ip.display_formatter.formatters
    formatters["text/html"].for_type(pd.DataFrame, html)
    formatters["text/plain"].for_type(pd.DataFrame, lambda df, p, cycle: p.text(plain(df)))
