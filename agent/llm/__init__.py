"""Model backends behind one interface (agent.llm.base.LLMBackend). `get_backend` builds the configured one;
a configured backend that fails is an error, never a silent switch to another model."""
from __future__ import annotations

from agent.errors import ConfigError
from agent.llm.base import Completion, LLMBackend, Request
from agent.llm.embedded import EMBEDDED_GGUF, default_model_for, embedded_gguf_path
from agent.settings import Settings

__all__ = ["EMBEDDED_GGUF", "Completion", "LLMBackend", "Request", "default_model_for", "embedded_gguf_path",
           "get_backend"]

def get_backend(settings: Settings) -> LLMBackend:
    if settings.llm.backend == "local":
        from agent.llm.local import LocalBackend  # deferred: a backend's module (and its native library) loads

        return LocalBackend(settings)
    if settings.llm.backend == "openai":
        from agent.llm.openai_compat import OpenAIBackend  # only when that backend is configured

        return OpenAIBackend(settings)
    if settings.llm.backend == "gpu":
        if not settings.llm.model:
            raise ConfigError("the gpu backend needs DISSECT_MODEL: a Hugging Face folder or a GGUF file")
        from agent.llm.gpu import GpuBackend  # deferred: torch and transformers are an optional extra

        return GpuBackend(settings)
    raise ConfigError(f"unknown backend {settings.llm.backend!r}")
