"""The paper's temporal sampling: which raw frames each pathway sees, and packing clips into
pathway tensors.

Slow pathway: T frames, one every tau raw frames. Fast pathway: alpha*T frames, one every tau/alpha
raw frames, over the same raw clip of T*tau frames; every Slow frame is also a Fast frame.
"""

from __future__ import annotations


def sample_indices(
    num_video_frames: int, T: int = 4, tau: int = 16, alpha: int = 8, start: int = 0
) -> tuple[list[int], list[int]]:
    """Raw frame indices of the Slow and Fast pathways (the paper's definition).

    slow = start + i*tau (i < T); fast = start + j*tau/alpha (j < alpha*T).

    >>> sample_indices(64, T=4, tau=16, alpha=8)[0]
    [0, 16, 32, 48]
    """
    if tau % alpha != 0:
        raise ValueError(f"alpha={alpha} must divide tau={tau} (the Fast stride tau/alpha)")
    step = tau // alpha
    slow = [start + i * tau for i in range(T)]
    fast = [start + j * step for j in range(alpha * T)]
    if fast[-1] >= num_video_frames or start < 0:
        raise ValueError(
            f"the clip needs raw frames {start}..{fast[-1]} but the video has {num_video_frames}"
        )
    return slow, fast
