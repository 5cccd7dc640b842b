"""How tables read (issue 30): "–" for a missing value, four significant digits, responses uncut; the
ntlib kernel shows DataFrames this way and keeps ipykernel's loopback TCP warning out of every run's log."""
import logging
import math

import numpy as np
import pandas as pd

from ntlib.machine.kernel import LoopbackTransport
from ntlib.results import display


def test_number_by_hand():
    assert display.number(float("nan")) == "–" and display.number(None) == "–"
    assert display.number(55.870673) == "55.87" and display.number(0.000535) == "5.350e-04"
    assert display.number(12345.6) == "12346" and display.number(2345678) == "2345678"
    assert display.number(0.0123) == "0.01230" and display.number(3.2411e-5) == "3.241e-05"
    assert display.number("i don't know") == "i don't know" and display.number(True) == "True"
    assert display.number(math.inf) == "∞"


def test_markdown_keeps_the_digits_and_shows_a_dash_for_missing():
    df = pd.DataFrame({"ppl": [55.870673, np.nan], "n": [1000, 2]}, index=["a", "b"])
    md = display.markdown(df)
    assert "55.8707" in md and "nan" not in md.lower() and "–" in md
    complete = pd.DataFrame({"ppl": [55.870673, 61.2]})
    assert display.markdown(complete) == complete.to_markdown()      # reports without gaps are unchanged


def test_html_and_plain_show_numbers_as_number_does():
    df = pd.DataFrame({"ppl": [55.870673, np.nan], "response": ["yeah", None]})
    assert "<td>55.87</td>" in display.html(df) and "<td>–</td>" in display.html(df)
    assert "NaN" not in display.plain(df) and "None" not in display.plain(df)


def test_the_kernel_drops_only_the_loopback_tcp_warning():
    f = LoopbackTransport()
    def rec(msg):
        return logging.LogRecord("IPKernelApp", logging.WARNING, __file__, 1, msg, None, None)
    assert not f.filter(rec("Kernel is running over TCP without encryption. All communication ..."))
    assert f.filter(rec("Failed to load connection file"))


def test_a_long_response_is_shown_whole():
    response = "i don't know what you mean by that but i think it is a very good question to ask " * 2
    df = pd.DataFrame({"response": [response]})
    assert response.strip() in display.html(df) and response.strip() in display.plain(df)


def test_a_missing_index_label_is_a_dash_too():
    """Issue 30: the GAN table's g_lr index showed NaN for the row before any GAN step."""
    df = pd.DataFrame({"ppl": [185.4, 181.6]},
                      index=pd.MultiIndex.from_tuples([("baseline seed 1", np.nan), ("baseline seed 1", 0.001)],
                                                      names=["", "g_lr"]))
    assert "NaN" not in display.html(df) and "NaN" not in display.plain(df) and "0.001000" in display.plain(df)
