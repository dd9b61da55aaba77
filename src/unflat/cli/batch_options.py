"""The options of ``unflat batch``: each pipeline's own command's options, and JOB.yaml.

An option goes to every stage of the chain whose command has it (``--device cuda`` to each);
an option that means different things in two stages (``--weights``: Depth Pro's or SHARP's)
must say which: ``--depth.weights W``, ``--scene.weights W``. The values are parsed by the
stage's own command (``unflat depth``, ``unflat splat``, ``unflat render``): same names, same
types, same defaults.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from typer import TyperException

from unflat.errors import ConfigError, InputError
from unflat.pipelines.chain import COMMANDS

#: Options that mean the same in every stage that has them.
SHARED = {"--device", "--precision", "--focal-px"}
#: The batch's own options (folder, overwrite) and options of one file, not a batch.
_LEFT_OUT = {"inputs", "scene_path", "output", "overwrite", "depth_folder", "stabilise"}
#: Options a stage takes only when named with its prefix.
_PREFIX_ONLY = {"render": {"--focal-px"}}
JOB_KEYS = {"pipeline", "inputs", "output", "ray", "workers", "overwrite", "options"}


@dataclass
class JobSpec:
    """What to run: the chain, its input specs and each stage's parsed options."""

    pipeline: str
    inputs: list[str] = field(default_factory=list)
    options: list[str] = field(default_factory=list)  # option tokens, as on the command line
    output: Path | None = None
    ray: str | None = None
    workers: int | None = None
    overwrite: bool = False


def _command(stage: str) -> Any:
    """The click command of ``stage``'s own command (``unflat splat`` for ``scene``)."""
    import typer

    from unflat.cli.app import app

    return typer.main.get_command(app).commands[COMMANDS[stage]]  # type: ignore[attr-defined]


def _options(stage: str) -> dict[str, Any]:
    """The options of the command of ``stage``, by each of their spellings."""
    found = {}
    for param in _command(stage).params:
        if param.param_type_name == "option" and param.name not in _LEFT_OUT:
            for spelling in [*param.opts, *param.secondary_opts]:
                if spelling.startswith("--"):
                    found[spelling] = param
    return found


def split_tokens(tokens: list[str], names: list[str]) -> tuple[list[str], dict[str, list[str]]]:
    """The input specs among ``tokens``, and each stage's option tokens."""
    known = {name: _options(name) for name in names}
    inputs: list[str] = []
    given: dict[str, list[str]] = {name: [] for name in names}
    index = 0
    while index < len(tokens):
        token = tokens[index]
        index += 1
        if not token.startswith("--"):
            inputs.append(token)
            continue
        spelling, equals, inline = token.partition("=")
        targets, option = _targets(spelling, known)
        if not targets and option.startswith("--no-"):
            continue  # JOB.yaml's ``ply: false`` for a flag without a --no- form: the default
        param = known[targets[0]][option]
        words = [option]
        if not param.is_flag:
            if not equals:
                if index >= len(tokens):
                    raise ConfigError(f"{spelling} needs a value", hint=f"{spelling} VALUE")
                inline, index = tokens[index], index + 1
            words.append(inline)
        for target in targets:
            given[target] += words
    return inputs, given


def _targets(spelling: str, known: dict[str, dict[str, Any]]) -> tuple[list[str], str]:
    """The stages an option goes to, and its spelling in their commands."""
    stage, dot, bare = spelling[2:].partition(".")
    if dot:
        stage = "scene" if stage == "splat" else stage
        if stage not in known or f"--{bare}" not in known[stage]:
            raise ConfigError(f"{spelling}: {stage} has no --{bare} in this chain",
                              hint=f"see `unflat {COMMANDS.get(stage, stage)} --help`")  # fmt: skip
        return [stage], f"--{bare}"
    targets = [
        name
        for name, options in known.items()
        if spelling in options and spelling not in _PREFIX_ONLY.get(name, set())
    ]
    if not targets and not spelling.startswith("--no-"):
        raise ConfigError(f"no pipeline of {','.join(known)} has the option {spelling}",
                          hint="see each pipeline's own command's --help")  # fmt: skip
    if len(targets) > 1 and spelling not in SHARED:
        which = " or ".join(f"--{name}.{spelling[2:]}" for name in targets)
        raise ConfigError(f"{spelling} is an option of {' and '.join(targets)}",
                          hint=f"say which: {which}")  # fmt: skip
    return targets, spelling


def stage_options(names: list[str], given: dict[str, list[str]]) -> dict[str, dict[str, Any]]:
    """Each stage's option tokens parsed by its own command, as keyword values."""
    parsed: dict[str, dict[str, Any]] = {}
    for name in names:
        command = copy.copy(_command(name))  # its options only: no inputs, no --output
        command.params = list({id(p): p for p in _options(name).values()}.values())
        try:
            context = command.make_context(COMMANDS[name], list(given[name]))
        except TyperException as error:
            raise ConfigError(f"{name}: {error.format_message()}",
                              hint=f"see `unflat {COMMANDS[name]} --help`") from error  # fmt: skip
        values = {key: getattr(value, "value", value) for key, value in context.params.items()}
        if values.get("depth") is not None:
            values["depth"] = Path(values["depth"])
        parsed[name] = values
    return parsed


def read_job(path: Path) -> JobSpec:
    """A JOB.yaml (or .json): ``pipeline``, ``inputs``, ``output``, and optionally ``ray``,
    ``workers``, ``overwrite`` and ``options`` (``{"weights": ..., "scene.method": "rgbd"}``)."""
    text = path.read_text(encoding="utf-8")
    try:
        import yaml

        data = yaml.safe_load(text)
    except ImportError:  # JSON is YAML too: a job file in JSON needs no YAML parser
        import json

        try:
            data = json.loads(text)
        except ValueError as error:
            raise ConfigError(f"{path}: YAML needs PyYAML", hint="pip install pyyaml") from error
    except Exception as error:
        raise InputError(f"{path} is not valid YAML: {error}", hint="check its syntax") from error
    if not isinstance(data, dict) or "pipeline" not in data or set(data) - JOB_KEYS:
        raise InputError(f"{path} is not a batch job", hint=f"use the keys {sorted(JOB_KEYS)}")
    tokens: list[str] = []
    for key, value in (data.get("options") or {}).items():
        if value is True or value is False:
            tokens.append(f"--{key}" if value else f"--no-{key}")
        else:
            for one in value if isinstance(value, list) else [value]:
                tokens += [f"--{key}", str(one)]
    inputs = data.get("inputs") or []
    return JobSpec(str(data["pipeline"]), [str(one) for one in inputs] if isinstance(inputs, list)
                   else [str(inputs)], tokens, Path(data["output"]) if data.get("output") else None,
                   data.get("ray"), data.get("workers"), bool(data.get("overwrite")))  # fmt: skip
