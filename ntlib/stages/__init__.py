"""The reproduction's stages — the one list of them: each is a notebook, a driver module here and a
results file, in the order ``make reproduce`` runs them.

A driver (``ntlib.stages.<driver>``) holds everything its notebook computes: the notebook calls one
function per cell and shows what it returns. Each writes its results through :class:`StageResults`
(``reports/results/<results>_<corpus>.json``, one writer, one reader), which notebook 06
(:mod:`ntlib.stages.paper_tables`) and ``--compare`` read back. ``ntlib.run.reproduce``, the tables,
the tests and notebook 06 take the stage list from :data:`STAGES`.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from ntlib.results.reports import read_json, write_json


@dataclass(frozen=True)
class Stage:
    """One stage: ``notebooks/<name>.ipynb``, its driver and its results file (None: writes none)."""
    name: str                 # "03_malicious"
    driver: str               # ntlib.stages.<driver>
    results: str | None       # results/<results>_<corpus>.json
    title: str
    opt_in: bool = False      # beyond the paper: run only when named (make compare-losses)
    needs: tuple[str, ...] | None = None   # the stages whose models or reports it uses; None: every stage before it


STAGES = (
    Stage("01_data", "corpus", "data", "Data (App. B, Table 7)"),
    Stage("02_baselines", "baselines", "baselines", "Baseline models (§2, §4.1, Table 8)"),
    Stage("03_malicious", "malicious_response", "malicious", "The malicious response problem (§3.2, §4.2, Table 3)",
          needs=("02_baselines",)),
    Stage("04_frequent", "frequent_response", "frequent", "The frequent response problem (§3.3, §4.3, Tables 4, 5, 9)",
          needs=("02_baselines",)),
    Stage("05_gan_mmi", "gan_mmi", "gan_mmi", "GAN and MMI-antiLM (App. E, Table 4)", needs=("02_baselines",)),
    Stage("06_tables", "paper_tables", None, "Tables 3, 4, 8, 9 with verdicts"),
    Stage("07_negative_losses", "losses_compared", "negative_losses", "Negative losses compared (beyond the paper)",
          opt_in=True),
    Stage("08_own_model", "own_model", "own_model", "Your own model: a Hugging Face transformer (beyond the paper)",
          opt_in=True),
)
BY_NAME = {s.name: s for s in STAGES}
DEFAULT = tuple(s.name for s in STAGES if not s.opt_in)       # what `make reproduce` runs
OPT_IN = tuple(s.name for s in STAGES if s.opt_in)
TABLE_STAGES = tuple(s.results for s in STAGES if s.results and not s.opt_in)   # what notebook 06 reads


def needs(name: str, among: tuple[str, ...] = tuple(BY_NAME)) -> tuple[str, ...]:
    """The stages of ``among`` that ``name`` uses directly: its ``needs``, or every stage of ``among`` before it."""
    s, order = stage(name), tuple(BY_NAME)
    if s.needs is None:
        return tuple(x for x in among if order.index(x) < order.index(name))
    return tuple(x for x in s.needs if x in among)


def upstream(name: str, among: tuple[str, ...] = tuple(BY_NAME)) -> tuple[str, ...]:
    """Every stage of ``among`` that ``name`` uses, directly or through another (in ``among``'s order):
    03, 04 and 05 use 01 and 02 only, so they may run side by side (``reproduce --concurrent``)."""
    found, todo = set(), list(needs(name, among))
    while todo:
        s = todo.pop()
        if s not in found:
            found.add(s)
            todo.extend(needs(s, among))
    return tuple(x for x in among if x in found)


def waves(stages: tuple[str, ...], concurrent: bool) -> list[list[str]]:
    """``stages`` in the groups they run in: one stage each, or with ``concurrent`` the stages that use none of
    each other side by side (notebooks 03, 04 and 05 once 02 is done: :func:`upstream`)."""
    groups: list[list[str]] = []
    for name in stages:
        if concurrent and groups and not set(upstream(name, tuple(stages))) & set(groups[-1]):
            groups[-1].append(name)
        else:
            groups.append([name])
    return groups


class StageError(RuntimeError):
    """A stage's notebook failed or cannot be published; the message names the notebook, the executed copy
    and the error."""


def stage(name: str) -> Stage:
    """The stage called ``name``; an unknown name is an error listing the known ones."""
    if name not in BY_NAME:
        raise ValueError(f"unknown stage {name!r}; stages: {list(BY_NAME)}")
    return BY_NAME[name]


def results_path(reports_dir: str | Path, results: str, corpus: str) -> Path:
    """``reports_dir/results/<results>_<corpus>.json``."""
    return Path(reports_dir) / "results" / f"{results}_{corpus}.json"


@dataclass
class StageResults:
    """A stage's results: a dataclass whose fields are the results JSON's keys, written and read by
    :meth:`write` / :meth:`read` only. ``provenance`` says what ran it (:func:`ntlib.machine.provenance.record`)."""
    RESULTS: ClassVar[str] = ""          # the stage's results name (Stage.results)

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def write(self, reports_dir: str | Path) -> Path:
        return write_json(self.as_dict(), results_path(reports_dir, self.RESULTS, self.corpus))

    @classmethod
    def read(cls, reports_dir: str | Path, corpus: str):
        """The results a run of this stage wrote; fields the file lacks or has extra are errors naming it."""
        path = results_path(reports_dir, cls.RESULTS, corpus)
        data = read_json(path)
        fields = dataclasses.fields(cls)
        names = {f.name for f in fields}
        missing = sorted(f.name for f in fields if f.name not in data and f.default is dataclasses.MISSING
                         and f.default_factory is dataclasses.MISSING)
        if missing or set(data) - names:
            raise ValueError(f"{path}: not {cls.__name__} results (missing {missing}, unknown "
                             f"{sorted(set(data) - names)}); written by another ntlib version? rerun its notebook")
        return cls(**{k: v for k, v in data.items() if k in names})
