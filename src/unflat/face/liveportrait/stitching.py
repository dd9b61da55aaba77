"""S: the stitching MLP and the lip and eye retargeting MLPs.

Released names: ``retarget_shoulder`` (stitching: ``[x_s, x_d]`` flattened, ``6K`` values, to
``3K`` keypoint deltas then ``tx, ty``), ``retarget_mouth`` (lip: ``[x_s, 2 lip ratios]`` to
``3K`` deltas) and ``retarget_eye`` (eye: ``[x_s, 3 eye ratios]`` to ``3K`` deltas).
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

from unflat.face.liveportrait.config import MlpParams, StitchingParams


class RetargetingMlp(nn.Module):
    """Linear layers with ReLU between them, as ``mlp.0``, ``mlp.2``, ... ."""

    def __init__(self, params: MlpParams) -> None:
        super().__init__()
        sizes = [params.input_size, *params.hidden_sizes]
        layers: list[nn.Module] = []
        for fin, fout in itertools.pairwise(sizes):
            layers += [nn.Linear(fin, fout), nn.ReLU()]
        layers.append(nn.Linear(sizes[-1], params.output_size))
        self.mlp = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(x)


class StitchingRetargetingModule(nn.Module):
    """The three MLPs of S under their released names."""

    def __init__(self, params: StitchingParams) -> None:
        super().__init__()
        self.retarget_shoulder = RetargetingMlp(params.stitching)
        self.retarget_mouth = RetargetingMlp(params.lip)
        self.retarget_eye = RetargetingMlp(params.eye)
