"""The two stages on a tiny model: meta-learning episodes and few-shot fine-tuning."""

from __future__ import annotations

import torch

from unflat.face.fewshot.config import tiny_config
from unflat.face.fewshot.finetune import Person, finetune
from unflat.face.fewshot.losses import ContentLoss, LossWeights
from unflat.face.fewshot.meta import EmbedAndGenerate, Episodes, meta_step
from unflat.face.fewshot.model import FewShotTalkingHead

torch.set_num_threads(1)


def _episodes(batch: int = 2, shots: int = 2, side: int = 32) -> Episodes:
    draw = torch.Generator().manual_seed(1)

    def rand(*shape: int) -> torch.Tensor:
        # Smooth images (4x4 colours enlarged): a few steps can fit them, unlike noise.
        coarse = torch.rand(*shape[:-2], 4, 4, generator=draw)
        return torch.nn.functional.interpolate(coarse.flatten(0, -4), size=shape[-2:],
                                               mode="bilinear").reshape(shape)  # fmt: skip

    return Episodes(rand(batch, shots, 3, side, side), rand(batch, shots, 3, side, side),
                    rand(batch, 3, side, side), rand(batch, 3, side, side),
                    torch.arange(batch))  # fmt: skip


def _model() -> FewShotTalkingHead:
    torch.manual_seed(0)
    return FewShotTalkingHead(tiny_config(videos=2, image_size=32))


def test_meta_steps_fit_an_episode_and_pull_columns_to_embeddings() -> None:
    model, episodes = _model(), _episodes()
    side = EmbedAndGenerate(model.embedder, model.generator)
    optimisers = (torch.optim.Adam(side.parameters(), 1e-3),
                  torch.optim.Adam(model.discriminator.parameters(), 1e-3))  # fmt: skip
    with torch.no_grad():
        before = (model.discriminator.columns - model.embedder.embed(
            episodes.frames, episodes.landmarks)).abs().mean()  # fmt: skip
    history = [meta_step(side, model.discriminator, optimisers, episodes, ContentLoss())
               for _ in range(10)]  # fmt: skip
    assert set(history[0]) >= {"content", "adversarial", "feature_matching", "embedding_match",
                               "discriminator", "l1"}  # fmt: skip
    assert history[-1]["l1"] < 0.75 * history[0]["l1"]
    with torch.no_grad():
        after = (model.discriminator.columns - model.embedder.embed(
            episodes.frames, episodes.landmarks)).abs().mean()  # fmt: skip
    assert after < before


def test_person_starts_as_the_feed_forward_model_and_finetuning_fits_its_shots() -> None:
    model, episodes = _model(), _episodes(batch=1, shots=4)
    frames, shapes = episodes.frames[0], episodes.landmarks[0]
    model.eval()  # spectral norm's power iteration holds still
    person = Person(model, frames, shapes)
    embedding = model.embed(frames, shapes)
    torch.testing.assert_close(person.discriminator.columns[0],
                               (model.discriminator.w0 + embedding[0]).detach())  # fmt: skip
    person.eval()
    with torch.no_grad():
        torch.testing.assert_close(person(shapes), model.animate(embedding, shapes))
    person.train()
    before = float((person(shapes) - frames).abs().mean().detach())
    history = finetune(person, frames, shapes, 15, rates=(1e-3, 1e-3), batch_size=4)
    after = float((person(shapes) - frames).abs().mean().detach())
    assert len(history) == 15 and after < 0.9 * before
    # The meta-learned model itself is untouched.
    with torch.no_grad():
        torch.testing.assert_close(model.embed(frames, shapes), embedding)


def test_loss_weights_scale_the_generator_terms() -> None:
    model, episodes = _model(), _episodes()
    side = EmbedAndGenerate(model.embedder, model.generator)
    optimisers = (torch.optim.Adam(side.parameters(), 1e-3),
                  torch.optim.Adam(model.discriminator.parameters(), 1e-3))  # fmt: skip
    plain = LossWeights(adversarial=0.0, feature_matching=0.0)
    terms = meta_step(side, model.discriminator, optimisers, episodes, ContentLoss(), plain)
    assert terms["adversarial"] == 0 and terms["feature_matching"] == 0 and terms["content"] > 0


def test_identity_reaches_the_output_and_gradients_reach_the_embedder() -> None:
    model, episodes = _model(), _episodes()
    side = EmbedAndGenerate(model.embedder, model.generator)
    model.eval()
    # Two people's embeddings draw the same landmarks differently: AdaIN carries identity.
    embedding, fake = side(
        episodes.frames, episodes.landmarks, episodes.target_landmarks[:1].repeat(2, 1, 1, 1)
    )
    assert (embedding[0] - embedding[1]).abs().max() > 1e-4
    assert (fake[0] - fake[1]).abs().mean() > 1e-4
    # The content loss's gradient flows through P into every embedder block.
    ContentLoss()(fake, episodes.target).backward()
    for name, parameter in model.embedder.named_parameters():
        # Attention starts switched off (gamma = 0): only gamma learns at first.
        if "query" not in name and "key" not in name and "value" not in name and "out" not in name:
            assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
