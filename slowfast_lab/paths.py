"""The checkout's folders that the lessons read: data_samples/, notebooks/, data_samples/results/.

They sit next to the package in a git checkout (an editable install). An installed, non-editable
package has no checkout around it: then every helper here raises `CheckoutError` saying which
folder it looked for, instead of a bare FileNotFoundError deep inside a lesson.
"""

from __future__ import annotations

from pathlib import Path

# slowfast_lab/paths.py -> the checkout root (the only place that computes it).
REPO = Path(__file__).resolve().parent.parent


class CheckoutError(FileNotFoundError):
    """A folder or file of the repository checkout is missing (the package is not run from one)."""


def checkout_folder(name: str) -> Path:
    """The checkout folder `name` ("data_samples", "notebooks", "data_samples/results", ...).

    Raises CheckoutError when it does not exist, e.g. for a package installed without its checkout.
    """
    folder = REPO / name
    if not folder.is_dir():
        raise CheckoutError(
            f"{folder} not found: slowfast_lab looks for the repository's {name}/ next to the "
            "package; run from a git checkout (pip install -e .) or pass an explicit path"
        )
    return folder


def data_samples() -> Path:
    """data_samples/: sample videos, shipped checkpoints, recorded results."""
    return checkout_folder("data_samples")


def notebooks() -> Path:
    """notebooks/: the numbered lessons."""
    return checkout_folder("notebooks")


def results() -> Path:
    """data_samples/results/: the recorded comparison and checkpoint tables."""
    return checkout_folder("data_samples/results")


def checkpoints() -> Path:
    """data_samples/checkpoints/: the shipped MotionShapes checkpoints."""
    return checkout_folder("data_samples/checkpoints")


def sample_path(name: str) -> str:
    """Path of a file in data_samples/ (the lessons' sample videos); CheckoutError if absent."""
    path = data_samples() / name
    if not path.is_file():
        raise CheckoutError(f"{path} not found: the lessons need the repository's data_samples/")
    return str(path)
