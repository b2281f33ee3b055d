"""`python -m slowfast_lab ARGS` with a crash on one process (for tests under torchrun).

    torchrun --nproc_per_node 2 tests/_torchrun_crash.py finetune DATA ...

With SLOWFAST_LAB_TEST_CRASH="RANK:N", the process of that rank raises RuntimeError on its N-th
decoded training item (1-based; decode in the main process: --workers 0), as if the machine
went away; torchrun then stops the others. Without it, the command runs unchanged.
"""

from __future__ import annotations

import os
import sys

from slowfast_lab.__main__ import main
from slowfast_lab.datasets import VideoFolder


def _install_crash(spec: str) -> None:
    rank, at = (int(x) for x in spec.split(":"))
    if int(os.environ.get("RANK", 0)) != rank:
        return
    real = VideoFolder.__getitem__
    seen = {"n": 0}

    def getitem(self: VideoFolder, index: int):
        if self.train:
            seen["n"] += 1
            if seen["n"] == at:
                raise RuntimeError(f"test crash on rank {rank}, training item {at}")
        return real(self, index)

    VideoFolder.__getitem__ = getitem


if __name__ == "__main__":
    if os.environ.get("SLOWFAST_LAB_TEST_CRASH"):
        _install_crash(os.environ["SLOWFAST_LAB_TEST_CRASH"])
    sys.exit(main(sys.argv[1:]))
