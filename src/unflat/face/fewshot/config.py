"""The few-shot talking-head model's config: model fields only (training settings live in
:mod:`unflat.face.fewshot.train`). The defaults are the paper's size (256 px, widths 64 to 512,
a 512-d embedding); a tiny config (64 px, widths 8 to 32) runs on the CPU in tests."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from unflat.config import check_range, read_config
from unflat.errors import ConfigError

ARCHITECTURE = "fewshot_talking_head"
# Far past any sensible width or size: only a damaged config reaches these.
MAX_WIDTH = 65536
MAX_SIZE = 8192
# The embedder and the discriminator pool their features at this side (the paper's 4x4).
POOLED_SIDE = 4


@dataclass
class FewShotConfig:
    """Zakharov et al. 2019: embedder E, generator G (AdaIN from P·ê), projection discriminator D.

    Block ``i`` of a downsampling part has ``min(base_width * 2**i, max_width)`` channels; the
    embedder's and discriminator's last block has ``embedding_dim`` channels, since the
    discriminator's per-video columns and the embeddings they are matched to share that space.
    """

    image_size: int = 256
    embedding_dim: int = 512
    base_width: int = 64
    max_width: int = 512
    # The generator's encoder halves the landmark image this many times (256 -> 16).
    generator_downsamplings: int = 4
    # Residual blocks with AdaIN at the bottleneck. The paper does not state the number; five
    # follows the image-transformation network (Johnson et al. 2016) it builds on.
    generator_residual_blocks: int = 5
    # Self-attention sits at this side in every downsampling part and at ``attention_up`` in the
    # generator's upsampling part (the paper: 32x32 and 64x64); 0 leaves it out.
    attention_down: int = 32
    attention_up: int = 64
    # Training videos: one discriminator column W_i each (the paper: 145 469 VoxCeleb2 clips).
    videos: int = 1
    # Spectral normalisation in E and G as well as D (the paper: everywhere). Off, E's
    # embeddings can grow apart: with it on, at the proof's scale they stayed within 0.06 of
    # each other after 70 steps and G drew everyone alike (docs/fewshot.md). D always has it.
    spectral_norm_everywhere: bool = True

    @classmethod
    def from_dict(cls, values: dict) -> FewShotConfig:
        """Read a config dict (``"architecture"`` ignored); unknown keys are an error."""
        return read_config(cls, values, ARCHITECTURE)

    def to_dict(self) -> dict:
        return {"architecture": ARCHITECTURE, **asdict(self)}

    def validate(self) -> None:
        check_range("image_size", self.image_size, 16, MAX_SIZE, "e.g. 256 (the paper) or 64")
        side = self.image_size
        if side & (side - 1):
            raise ConfigError(f"image_size {side} is not a power of two", "e.g. 64, 128 or 256")
        check_range("embedding_dim", self.embedding_dim, 1, MAX_WIDTH, "e.g. 512")
        check_range("base_width", self.base_width, 1, MAX_WIDTH, "e.g. 64")
        check_range("max_width", self.max_width, self.base_width, MAX_WIDTH, "e.g. 512")
        check_range("generator_residual_blocks", self.generator_residual_blocks, 0, 64, "e.g. 5")
        check_range("videos", self.videos, 1, 100_000_000, "the number of training videos")
        check_range(
            "generator_downsamplings", self.generator_downsamplings, 1,
            self.encoder_downsamplings, f"at most log2(image_size / {POOLED_SIDE})",
        )  # fmt: skip
        for name in ("attention_down", "attention_up"):
            value = getattr(self, name)
            if value and (value & (value - 1) or not POOLED_SIDE <= value <= side):
                raise ConfigError(
                    f"{name} {value} is not a feature-map side of a {side} px network",
                    f"0 (none) or a power of two from {POOLED_SIDE} to {side}",
                )

    @property
    def encoder_downsamplings(self) -> int:
        """Blocks that bring the image to the pooled 4x4 side (6 at 256 px)."""
        return (self.image_size // POOLED_SIDE).bit_length() - 1

    def width(self, block: int) -> int:
        """Channels after downsampling block ``block`` (0-based)."""
        return min(self.base_width * 2**block, self.max_width)


def tiny_config(videos: int = 4, image_size: int = 64) -> FewShotConfig:
    """A config small enough to train on 2 CPU cores in minutes."""
    return FewShotConfig(
        image_size=image_size, embedding_dim=32, base_width=8, max_width=32,
        generator_downsamplings=2, generator_residual_blocks=2, attention_down=16,
        attention_up=32, videos=videos,
    )  # fmt: skip


def proof_config(videos: int = 64, image_size: int = 64) -> FewShotConfig:
    """The learning proof's model (``benchmarks/fewshot_proof.py``): the tiny layout twice as
    wide (16 to 64 channels, a 64-d embedding), spectral norm in D only, self-attention at 1/8
    of the side (8x8 at 64 px) in E and D. G's maps at 64 px are 16 to 64 px wide, so it has
    none: attention over 32x32 positions (``tiny_config``'s) cost most of a CPU step."""
    return replace(
        tiny_config(videos, image_size), embedding_dim=64, base_width=16, max_width=64,
        attention_down=max(image_size // 8, POOLED_SIDE), attention_up=image_size // 4,
        spectral_norm_everywhere=False,
    )  # fmt: skip
