"""How a table reads, in a notebook and in reports/*.md: a missing value is "–", never ``NaN``; numbers
to four significant digits, counts and large values with thousands separators; a response is never cut.

The ``ntlib`` kernel (:mod:`ntlib.machine.kernel`) calls :func:`register` at start-up, so every
DataFrame a notebook cell returns is shown this way (HTML and plain text); :func:`markdown` is what
reports/*.md and tables.md are written with. The CSV/JSON results keep every digit.
"""
from __future__ import annotations

import math
import numbers

import pandas as pd

MISSING = "–"


def number(x) -> str:
    """One cell: "–" for a missing value (None, NaN, NaT), ``1,234`` for an integer or a float ≥ 1,000 in
    size, else four significant digits (``55.87``, ``0.4112``, ``0.000535``)."""
    if x is None or x is pd.NaT or (isinstance(x, float) and math.isnan(x)):
        return MISSING
    if isinstance(x, bool) or not isinstance(x, numbers.Number):
        return str(x)
    if isinstance(x, numbers.Integral):
        return f"{int(x):,}"
    x = float(x)
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"


def markdown(df: pd.DataFrame) -> str:
    """``df`` as a markdown table with missing values shown as "–" (numbers as pandas/tabulate print
    them, so reports keep the digits they always had)."""
    return df.astype(object).where(df.notna(), None).to_markdown(missingval=MISSING)


def _shown(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with every cell as :func:`number` writes it (strings stay as they are)."""
    return df.map(number)


def html(df: pd.DataFrame) -> str:
    """``df`` as the HTML a notebook shows: :func:`number` for every cell, whole (pandas would cut a response
    after 50 characters with "…"; the browser wraps it instead)."""
    with pd.option_context("display.max_colwidth", None):
        return _shown(df).to_html(na_rep=MISSING)


def plain(df: pd.DataFrame) -> str:
    """The plain-text twin of :func:`html` (what nbval and an untrusted notebook read), also uncut."""
    with pd.option_context("display.max_colwidth", None):
        return _shown(df).to_string(na_rep=MISSING)


def register(ip=None) -> None:
    """Show DataFrames with :func:`html` / :func:`plain` in this IPython (the running kernel's by default)."""
    if ip is None:
        from IPython import get_ipython
        ip = get_ipython()
    if ip is None:
        return
    formatters = ip.display_formatter.formatters
    formatters["text/html"].for_type(pd.DataFrame, html)
    formatters["text/plain"].for_type(pd.DataFrame, lambda df, p, cycle: p.text(plain(df)))
