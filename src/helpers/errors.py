"""Exceptions with messages that name the file, variable or parameter at fault."""

from __future__ import annotations

from pathlib import Path


class GlassSMError(Exception):
    """Base class of the project's own errors."""


class ParamsError(GlassSMError, ValueError):
    """A params file is missing, unreadable or violates the schema."""


class PathError(GlassSMError):
    """An error about one file or folder: the message is ``<path>: <problem>``."""

    def __init__(self, path: Path | str, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class SourceError(PathError):
    """An input product file is missing, unreadable or not what was expected.

    The message always starts with the offending path.
    """


class RunFolderError(PathError):
    """A run folder cannot be used: its manifest is corrupt, or the folder cannot be created or written.

    The message always starts with the offending path.
    """


class MissingInputsError(GlassSMError):
    """Input files required by a configuration are absent; lists each with its origin."""

    def __init__(self, missing: list[tuple[str, str, str]]) -> None:
        self.missing = missing
        lines = [f"{len(missing)} required input(s) not found:"]
        for product, where, origin in missing:
            lines.append(f"  - {product}: expected {where}\n      source: {origin}")
        super().__init__("\n".join(lines))


class StaleArtefactError(GlassSMError):
    """A stored result (datacube, samples, ...) was made with other settings than the run's.

    The message starts with the artefact's path and names what changed.
    """
