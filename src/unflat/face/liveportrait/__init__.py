"""LivePortrait-compatible portrait animation: the five networks with the released tensor names.

``LivePortrait`` (``model``) holds F, M, W, G and S; ``build_model({"architecture":
"liveportrait"})`` builds the released full size, ``release.load_released`` the five released
``.pth`` files (MIT, KwaiVGI/LivePortrait on the Hugging Face hub).
"""

from unflat.face.liveportrait.config import LivePortraitConfig
from unflat.face.liveportrait.model import LivePortrait, build_liveportrait
from unflat.face.liveportrait.warping import Warp

__all__ = ["LivePortrait", "LivePortraitConfig", "Warp", "build_liveportrait"]
