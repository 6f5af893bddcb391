"""JupyterLab, ready to explore: the project's kernel registered and the notebooks one click away.

``make lab`` runs ``python -m helpers.lab``, which

1. registers the kernel ``glass-sm`` ("Python (glass-sm)") of this environment's Python in the
   environment itself (``<venv>/share/jupyter/kernels/glass-sm``: nothing in the user's home,
   and a second checkout keeps its own kernel);
2. starts JupyterLab on the project root, opening ``notebooks/``, without a browser (it prints
   the address with its token); arguments after ``--`` go to ``jupyter lab``, e.g.
   ``python -m helpers.lab -- --port 8899``.

The notebooks name ``glass-sm`` as their kernel, and their ``parameters`` cell defaults to
``params/demo.yaml`` and the run ``demo``: opened in Lab, a notebook runs on the demo's outputs
(``make demo`` first, or run the notebooks in order from 00). The pipeline and the tests run
them with papermill, which names its kernel itself.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from helpers.provenance import PROJECT_ROOT

KERNEL_NAME = "glass-sm"
KERNEL_DISPLAY_NAME = "Python (glass-sm)"
NOTEBOOKS_URL = "/lab/tree/notebooks"


def register_kernel(prefix: Path | str | None = None) -> Path:
    """Register this Python as the Jupyter kernel ``glass-sm`` under ``prefix``.

    Parameters
    ----------
    prefix
        The data prefix: the kernel lands in ``<prefix>/share/jupyter/kernels/glass-sm``
        (default ``sys.prefix``, the virtual environment).

    Returns
    -------
    Path
        The kernel's folder (holding ``kernel.json``).
    """
    from ipykernel.kernelspec import install

    return Path(install(kernel_name=KERNEL_NAME, display_name=KERNEL_DISPLAY_NAME, prefix=str(prefix or sys.prefix)))


def lab_command(extra: Sequence[str] = (), root: Path = PROJECT_ROOT) -> list[str]:
    """The ``jupyter lab`` command line: project root, notebooks folder opened, no browser."""
    command = [
        sys.executable, "-m", "jupyterlab",
        "--no-browser",
        f"--ServerApp.root_dir={root}",
        f"--LabApp.default_url={NOTEBOOKS_URL}",
    ]
    if hasattr(os, "getuid") and os.getuid() == 0:
        command.append("--allow-root")
    return [*command, *extra]


def main(argv: Sequence[str] | None = None) -> int:
    """Register the kernel, then run JupyterLab until it is stopped; returns its exit status."""
    parser = argparse.ArgumentParser(prog="python -m helpers.lab", description=__doc__.splitlines()[0])
    parser.add_argument("--register-only", action="store_true", help="register the kernel and exit")
    parser.add_argument("lab_args", nargs="*", help="arguments for jupyter lab (after --)")
    args = parser.parse_args(argv)
    folder = register_kernel()
    print(f"kernel {KERNEL_NAME} registered in {folder}")
    if args.register_only:
        return 0
    try:
        return subprocess.call(lab_command(args.lab_args))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
