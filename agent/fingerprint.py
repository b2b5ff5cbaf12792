"""Run identity: one fingerprint of everything that decides a model's output, for the LLM cache and for reuse.

Names are not identities: two OpenAI-compatible servers may both call their model "local", two GGUF files may share
a stem. So a backend is identified by its kind, its endpoint, the digest of its weights (or the name a remote
server knows the model by), the decoding parameters that change tokens (thread count included: llama.cpp's output
differs between thread counts) and the context window. A request adds its rendered messages and schema.
"""
from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any


@lru_cache(maxsize=16)
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:24]


def weights_digest(path: str | Path | None) -> str:
    """The digest of a model file, or of a model folder's files (names, sizes and small config files); "" when
    there is no local file (a remote model)."""
    if not path:
        return ""
    p = Path(path)
    try:
        if p.is_file():
            st = p.stat()
            return _file_digest(str(p.resolve()), st.st_size, st.st_mtime_ns)
        if p.is_dir():
            h = hashlib.sha256()
            for f in sorted(x for x in p.rglob("*") if x.is_file()):
                st = f.stat()
                h.update(f"{f.relative_to(p)}:{st.st_size}".encode())
                if f.suffix == ".json" and st.st_size < 1_000_000:
                    h.update(f.read_bytes())
            return h.hexdigest()[:24]
    except OSError:
        return ""
    return ""


def digest(obj: Any, n: int = 24) -> str:
    blob = json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:n]


def request_fingerprint(identity: dict[str, Any], messages: list[dict], schema: dict | None, max_tokens: int,
                        temperature: float) -> str:
    """The LLM cache key: the backend's identity and the whole request as sent."""
    return digest({"backend": identity, "messages": messages, "schema": schema, "max_tokens": max_tokens,
                   "temperature": temperature}, 40)
