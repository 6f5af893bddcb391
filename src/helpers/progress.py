"""Progress bars that suit where the code runs: a widget in JupyterLab, one line in a report.

Every long loop of the project takes its bar from :func:`progress_bar` (a drop-in for
``tqdm(...)``). The kind of bar is chosen once per process:

``widget``
    a Jupyter widget (``tqdm.notebook``): in a kernel started by a Jupyter server (JupyterLab,
    Notebook), which sets ``JPY_SESSION_NAME``, when ipywidgets is installed.
``summary``
    nothing while the loop runs, then one line when the bar closes (``desc: 100%|...| 14/14
    [01:04<00:00, ...]``): in any other kernel, e.g. papermill's headless runs, so that an
    executed notebook and the HTML report keep one line per finished bar instead of one per
    update (a widget there would leave nothing readable, since nobody renders it).
``text``
    tqdm's usual text bar on stderr: outside a kernel (a terminal, the tests).

The environment variable :data:`PROGRESS_ENV` (``widget``, ``summary``, ``text``) overrides
the choice; the pipeline runner sets it to ``summary`` for its notebook kernels.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Any, Literal

from tqdm.std import tqdm as text_tqdm

PROGRESS_ENV = "GLASS_SM_PROGRESS"
#: Set by jupyter_server for the kernels it starts (not by papermill or nbclient).
JUPYTER_SERVER_ENV = "JPY_SESSION_NAME"
BarKind = Literal["widget", "summary", "text"]
BAR_KINDS: tuple[BarKind, ...] = ("widget", "summary", "text")


class SummaryBar(text_tqdm):
    """A tqdm bar that prints nothing until it closes, then its final state on one line."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._closing = False
        kwargs.setdefault("mininterval", float("inf"))
        super().__init__(*args, **kwargs)

    def display(self, msg: str | None = None, pos: int | None = None) -> bool | None:
        if self._closing:  # the final state, plainly: no carriage return, no padding
            self.fp.write(self.__str__() if msg is None else msg)
            self.fp.flush()
        return True

    def close(self) -> None:
        self._closing = True
        super().close()


def _in_kernel() -> bool:
    """Whether this process is an IPython kernel (not a terminal IPython, not plain Python)."""
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    get_ipython = getattr(shell, "get_ipython", None)
    instance = get_ipython() if get_ipython else None
    return instance is not None and type(instance).__name__ == "ZMQInteractiveShell"


def bar_kind() -> BarKind:
    """The kind of bar for this process (see the module docstring).

    Raises
    ------
    ValueError
        naming :data:`PROGRESS_ENV` when it is set to something else than a bar kind.
    """
    chosen = os.environ.get(PROGRESS_ENV, "").strip().lower()
    if chosen:
        if chosen not in BAR_KINDS:
            raise ValueError(f"{PROGRESS_ENV}={chosen!r}: expected one of {', '.join(BAR_KINDS)}")
        return chosen  # type: ignore[return-value]
    if not _in_kernel():
        return "text"
    if os.environ.get(JUPYTER_SERVER_ENV) and importlib.util.find_spec("ipywidgets") is not None:
        return "widget"
    return "summary"


def progress_bar(*args: Any, **kwargs: Any) -> text_tqdm:
    """A tqdm bar of the kind :func:`bar_kind` chooses; takes tqdm's arguments.

    ``disable=True`` gives a silent bar of any kind, as with tqdm.
    """
    kind = bar_kind()
    if kind == "widget":
        from tqdm.notebook import tqdm as widget_tqdm

        return widget_tqdm(*args, **kwargs)
    if kind == "summary":
        return SummaryBar(*args, **kwargs)
    return text_tqdm(*args, **kwargs)
