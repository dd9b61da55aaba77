"""The few-shot model: shapes, the paper's structure, the registry, configs refused."""

from __future__ import annotations

import pytest
import torch

from unflat.errors import ConfigError
from unflat.face.fewshot.blocks import AdaptiveInstanceNorm, SelfAttention
from unflat.face.fewshot.config import ARCHITECTURE, FewShotConfig, proof_config, tiny_config
from unflat.face.fewshot.model import FewShotTalkingHead
from unflat.registry import architectures, build_model

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def model() -> FewShotTalkingHead:
    torch.manual_seed(0)
    return FewShotTalkingHead(tiny_config(videos=3))


def test_shapes_of_the_three_networks(model: FewShotTalkingHead) -> None:
    frames, shapes = torch.rand(2, 4, 3, 64, 64), torch.rand(2, 4, 3, 64, 64)
    model.eval()  # spectral norm's power iteration holds still
    embedding = model.embedder.embed(frames, shapes)
    assert embedding.shape == (2, 32) and (embedding >= 0).all()  # sum pooling, then ReLU
    # ê is the mean of the K single-frame embeddings.
    single = model.embedder(frames[0], shapes[0])
    torch.testing.assert_close(embedding[0], single.mean(0), rtol=1e-5, atol=1e-5)
    out = model.animate(embedding, shapes[:, 0])
    assert out.shape == (2, 3, 64, 64) and out.min() >= 0 and out.max() <= 1
    scores, features = model.discriminator(out, shapes[:, 0], torch.tensor([0, 2]))
    assert scores.shape == (2,)
    assert features[-1].shape == (2, 32, 4, 4)  # the extra residual block at 4x4
    model.train()


def test_the_score_is_a_projection_on_the_video_column(model: FewShotTalkingHead) -> None:
    d = model.discriminator
    frames, shapes = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        vector = torch.relu(d.features(frames, shapes)[-1].sum(dim=(2, 3)))
        d.eval()
        score, _ = d(frames, shapes, torch.tensor([1]))
        d.train()
    wanted = (vector[0] * (d.columns[1] + d.w0)).sum() + d.b
    torch.testing.assert_close(score[0], wanted)


def test_the_person_enters_only_through_adain(model: FewShotTalkingHead) -> None:
    g = model.generator
    norms = [m for m in g.modules() if isinstance(m, AdaptiveInstanceNorm)]
    # 2 per residual block and per upsampling block, and the final one.
    assert len(norms) == 2 * 2 + 2 * 2 + 1
    assert g.style_size == sum(2 * n.channels for n in norms)
    assert g.projection.weight.shape == (g.style_size, 32)
    shapes = torch.rand(1, 3, 64, 64)
    g.eval()
    one, other = g(shapes, torch.zeros(1, g.style_size)), g(shapes, torch.ones(1, g.style_size))
    g.train()
    assert (one - other).abs().max() > 1e-3


def test_spectral_norm_and_attention_where_the_paper_has_them(model: FewShotTalkingHead) -> None:
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(hasattr(m, "parametrizations") for m in convs)
    for net in (model.embedder, model.generator, model.discriminator):
        assert any(isinstance(m, SelfAttention) for m in net.modules())
    assert sum(isinstance(m, SelfAttention) for m in model.generator.modules()) == 2


def test_the_proof_model_keeps_attention_off_large_maps() -> None:
    proof = FewShotTalkingHead(proof_config(videos=2))
    assert proof.config.embedding_dim == 64 and proof.config.width(2) == 64
    for net in (proof.embedder, proof.discriminator):
        assert sum(isinstance(m, SelfAttention) for m in net.modules()) == 1
    assert not any(isinstance(m, SelfAttention) for m in proof.generator.modules())
    # Spectral norm in D only.
    for net, wanted in ((proof.embedder, False), (proof.generator, False),
                        (proof.discriminator, True)):  # fmt: skip
        convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
        assert all(hasattr(m, "parametrizations") == wanted for m in convs)


def test_registered_with_the_paper_size_as_default() -> None:
    assert architectures()[ARCHITECTURE].config is FewShotConfig
    # On the CPU (2.5 s): spectral norm's power iteration on the meta device takes far longer.
    full = build_model({"architecture": ARCHITECTURE})
    assert full.config.image_size == 256 and full.config.embedding_dim == 512
    assert full.discriminator.blocks[-1].conv1.weight.shape == (512, 512, 3, 3)
    # Six downsampling blocks take 256 px to 4x4; the generator's four reach 16x16.
    assert full.config.encoder_downsamplings == 6 and full.generator.encoder[-1].conv1


@pytest.mark.parametrize(
    ("values", "word"),
    [({"image_size": 100}, "power of two"), ({"base_width": 0}, "base_width"),
     ({"attention_down": 24}, "attention_down"), ({"generator_downsamplings": 7}, "generator"),
     ({"widht": 3}, "widht")],
)  # fmt: skip
def test_bad_configs_are_refused(values: dict, word: str) -> None:
    with pytest.raises(ConfigError, match=word):
        build_model({"architecture": ARCHITECTURE, **values})
