"""Evaluation datasets, shared by every capability: readers and converters.

- :mod:`unflat.datasets.folder`: the one folder format ``unflat eval depth`` reads
  (:func:`load_dataset`, :class:`Sample`);
- :mod:`unflat.datasets.middlebury`: Middlebury 2014 stereo scenes (calibration, disparity to
  metres, conversion, :class:`StereoPair` for novel-view evaluation);
- :mod:`unflat.datasets.annotated`: NYU Depth v2 and KITTI test frames.
"""

from unflat.datasets.annotated import convert_kitti, convert_nyu
from unflat.datasets.folder import Sample, load_dataset
from unflat.datasets.middlebury import (
    StereoPair,
    convert_middlebury,
    load_middlebury_pair,
    middlebury_depth,
    read_middlebury_calib,
)

__all__ = [
    "Sample",
    "StereoPair",
    "convert_kitti",
    "convert_middlebury",
    "convert_nyu",
    "load_dataset",
    "load_middlebury_pair",
    "middlebury_depth",
    "read_middlebury_calib",
]
