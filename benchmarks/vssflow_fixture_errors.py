"""The error table of ``unflat.sound.vssflow`` against the published code's reference vectors
(``../shared/fixtures/vssflow_tiny_a``: every tensor of its ``io.safetensors``), as Markdown.

    python benchmarks/vssflow_fixture_errors.py [--fixture ../shared/fixtures/vssflow_tiny_a]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
import torch.nn.functional as F

FIXTURE = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "vssflow_tiny_a"
# README tolerances: (atol, rtol), None for integers (exact).
TOLERANCES = {
    "v_": (1e-5, 1e-5), "train_pred": (1e-5, 1e-5), "train_loss": (0.0, 1e-5),
    "sample_dopri5": (1e-3, 0.0), "sample_": (2e-5, 0.0),
}  # fmt: skip


def ours(folder: Path) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """(reference tensors, the same computed here)."""
    from safetensors.torch import load_file

    import unflat
    from unflat.sound.vssflow import stretch_phonemes
    from unflat.sound.vssflow.model import condot_path, rotary_tables
    from unflat.sound.vssflow.sample import sample_with_nfe

    model = unflat.build_model(json.loads((folder / "config.json").read_text())).eval()
    model.load_state_dict(load_file(folder / "model.safetensors"), strict=True)
    io = load_file(folder / "io.safetensors")
    got: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        raw = [io[f"in_{k}"] for k in ("video_feat", "ref_audio_ebd", "synch_feat", "lip_feat")]
        c = model.condition(*raw, io["in_phone_id"])
        n = model.cfg.latent_length
        video = F.interpolate(raw[0].transpose(1, 2), size=n, mode="nearest").transpose(1, 2)
        synch = F.interpolate(raw[2].flatten(1, 2).transpose(1, 2), size=n, mode="nearest-exact")
        got["glue_video_feat_resampled"] = video
        got["glue_synch_feat_resampled"] = synch.transpose(1, 2)
        got["glue_lip_feat_padded"] = F.pad(raw[3], (0, 0, 0, n - raw[3].shape[1]))
        got["glue_phone_id_padded"] = F.pad(io["in_phone_id"], (0, n - io["in_phone_id"].shape[1]))
        got["glue_video_proj"], got["glue_ref_proj"] = c.cross_attn[:, 1:], c.cross_attn[:, :1]
        lip, phone, synch = c.channels.split(
            [model.cfg.vaflow_params.lip_feat_dim, model.cfg.vaflow_params.phone_ebd_dim,
             model.cfg.vaflow_params.synch_feat_dim], dim=1)  # fmt: skip
        got["glue_lip_proj"], got["glue_phone_emb"] = lip.transpose(1, 2), phone.transpose(1, 2)
        got["glue_synch_proj"] = synch.transpose(1, 2)
        got["glue_cross_attn_cond"], got["glue_latent_cond"] = c.cross_attn, c.channels
        x, t, w = io["x_in"], io["t_vec"], float(io["guidance_scale"])
        got["x_in"] = torch.cat([io["noise"], c.channels], 1)
        got["rope_cos"], got["rope_sin"] = rotary_tables(n + 1, model.cfg.rotary_dim)
        got["time_token"] = model.vaflow.time_token(t)
        got["v_cond"] = model(x, t, c.cross_attn)
        zero_tokens = torch.zeros_like(c.cross_attn)
        got["x_in_uncond"] = torch.cat([x[:, :16], torch.zeros_like(c.channels)], 1)
        got["v_uncond"] = model(got["x_in_uncond"], t, zero_tokens)
        got["v_guided"] = model.guided_velocity(x, t, c.cross_attn, w)
        for method, steps in (("euler", 4), ("midpoint", 4), ("dopri5", 10)):
            out, nfe = sample_with_nfe(
                model, x, c.cross_attn, guidance=w, method=method, steps=steps
            )
            got[f"sample_{method}"], got[f"sample_{method}_nfe"] = out, torch.tensor([nfe])
        got["sample_euler_w0"] = sample_with_nfe(
            model, x, c.cross_attn, guidance=0.0, method="euler", steps=4
        )[0]
        got["train_x_t"], got["train_dx_t"] = condot_path(
            io["train_x1"], io["train_x0"], io["train_t"], c.channels
        )
        got["train_pred"] = model(io["train_x_t"], io["train_t"], c.cross_attn)
        loss = model.training_loss(io["train_x1"], io["train_x0"], io["train_t"], c)
        got["train_loss"] = loss.reshape(1)
    for k in range(5):
        want = io[f"stretch{k}_out"]
        got[f"stretch{k}_out"] = stretch_phonemes(io[f"stretch{k}_in"], want.numel())
    return io, got


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fixture", type=Path, default=FIXTURE)
    args = parser.parse_args()
    torch.set_num_threads(1)
    io, got = ours(args.fixture)
    print("| tensor | shape | max abs error | tolerance | ok |")
    print("|---|---|---|---|---|")
    inputs = [name for name in io if name not in got]
    for name in inputs:  # in_*, noise, t, t_vec, guidance_scale, train_x1/x0/t, stretch*_in
        print(f"| `{name}` | {list(io[name].shape)} | input, used as is | | |")
    for name, value in got.items():
        want = io[name]
        if not want.is_floating_point():
            same = torch.equal(value.long().reshape(want.shape), want)
            print(f"| `{name}` | {list(want.shape)} | {'exact' if same else 'DIFFERS'} | exact "
                  f"| {'yes' if same else 'NO'} |")  # fmt: skip
            continue
        error = float((value.float().reshape(want.shape) - want).abs().max())
        atol, rtol = next((v for k, v in TOLERANCES.items() if name.startswith(k)), (1e-6, 0.0))
        ok = bool(torch.allclose(value.float().reshape(want.shape), want, atol=atol, rtol=rtol))
        tolerance = f"atol {atol:g}" + (f", rtol {rtol:g}" if rtol else "")
        print(f"| `{name}` | {list(want.shape)} | {error:.2e} | {tolerance} | "
              f"{'yes' if ok else 'NO'} |")  # fmt: skip


if __name__ == "__main__":
    main()
