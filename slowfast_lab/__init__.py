"""slowfast-lab: an interactive workbench for learning and exploring SlowFast video networks."""

from .complexity import Complexity, complexity
from .config import PRESETS, ConfigError, SlowFastConfig, get_config
from .inference import fold_batchnorm, optimize_for_inference
from .model import (
    FastOnly,
    ShapeError,
    SlowFast,
    SlowOnly,
    VideoNet,
    build_model,
)
from .sampling import (
    Clip,
    load_clip,
    load_clips,
    load_train_clip,
    load_uniform_clips,
    sample_indices,
    to_model_input,
    train_clip_start,
    uniform_clip_starts,
)
from .synthetic import MotionShapesData, make_dataset, render_clip
from .synthetic import TaskConfig as MotionShapesConfig
from .train import TrainConfig, evaluate, evaluate_checkpoint
from .train import train as train_model  # `sfl.train` stays the module
from .video import VideoError, VideoInfo, probe, read_frames
from .weights import CheckpointError, load_weights

__version__ = "0.1.0"
