"""An import-only stand-in for torchvision, so the published Depth Pro code can be timed here.

timm and apple/ml-depth-pro import torchvision at module load, but building and running the
Depth Pro network never calls it; the CPU build of torch we use has no torchvision. Every
attribute of a stubbed module is a distinct do-nothing class, so enum-like lookups stay
distinct and calling one never fails. Never imported by the unflat package.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import types
from typing import ClassVar


class _Member(type):
    def __getattr__(cls, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        member = _Member(name, (_Anything,), {})
        setattr(cls, name, member)
        return member

    def __iter__(cls):
        return iter(())


class _Anything(metaclass=_Member):
    def __init__(self, *args, **kwargs) -> None:
        pass

    def __call__(self, *args, **kwargs):
        return self


class _StubModule(types.ModuleType):
    __path__: ClassVar[list[str]] = []

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        member = _Member(name, (_Anything,), {})
        setattr(self, name, member)
        return member


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path, target=None):
        if name == "torchvision" or name.startswith("torchvision."):
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        return _StubModule(spec.name)

    def exec_module(self, module) -> None:
        pass


def install() -> None:
    """Make ``import torchvision...`` succeed with stub modules."""
    sys.meta_path.insert(0, _Finder())
