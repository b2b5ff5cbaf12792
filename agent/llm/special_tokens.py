"""Control tokens typed into text must stay text.

llama.cpp (and Hugging Face tokenizers) parse a chat template's special tokens wherever they appear in the rendered
prompt, message content included: a paper ending in "<|im_end|><|im_start|>assistant {...}" closes our user turn
and writes the model's answer for it. Which strings are special depends on the loaded model, so they are read from
the model itself: the GGUF's vocabulary (tokens of type CONTROL or USER_DEFINED, which llama.cpp matches in text)
and the markers written in its chat template; for a Hugging Face tokenizer, its special and added tokens.
`neutralise` breaks every such string in a message with a zero-width space after its first character: it reads
the same to a person and to the model, and no longer matches the token.
"""
from __future__ import annotations

import logging
import re
import struct
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO

log = logging.getLogger("dissect.llm.special_tokens")

BREAK = "\u200b"  # zero-width space: inserted after a marker's first character
MIN_MARKER_CHARS = 3  # shorter "special" strings ("<s" fragments, single bytes) would break ordinary text
# Marker-like literals in a chat template: <|im_start|>, <start_of_turn>, [INST], <<SYS>>, <|eot_id|>...
TEMPLATE_MARKER = re.compile(r"<<?/?\|?[A-Za-z_][\w.-]*\|?>>?|\[/?[A-Z][A-Z_]+\]")
# When a model's own tokens cannot be read: the shape most chat families use for their control tokens.
FALLBACK = re.compile(r"<\|[^|<>\s]{1,40}\|>")

# GGUF metadata value types (gguf spec): fixed-size scalars as struct formats, then string and array.
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
TOKEN_CONTROL, TOKEN_USER_DEFINED = 3, 4  # llama.cpp's token types that it matches inside text
_WANTED = ("tokenizer.ggml.tokens", "tokenizer.ggml.token_type", "tokenizer.chat_template")


class _GGUFError(ValueError):
    pass


def _read(f: BinaryIO, fmt: str) -> Any:
    size = struct.calcsize(fmt)
    data = f.read(size)
    if len(data) != size:
        raise _GGUFError("truncated metadata")
    return struct.unpack(fmt, data)[0]


def _string(f: BinaryIO, keep: bool = True) -> str:
    n = _read(f, "<Q")
    if n > 1 << 26:
        raise _GGUFError("implausible string length")
    if not keep:
        f.seek(n, 1)
        return ""
    return f.read(n).decode("utf-8", errors="replace")


def _value(f: BinaryIO, vtype: int, keep: bool) -> Any:
    if vtype in _SCALARS:
        return _read(f, _SCALARS[vtype])
    if vtype == _STRING:
        return _string(f, keep)
    if vtype == _ARRAY:
        etype, count = _read(f, "<I"), _read(f, "<Q")
        if count > 1 << 24:
            raise _GGUFError("implausible array length")
        if etype in _SCALARS and not keep:
            f.seek(count * struct.calcsize(_SCALARS[etype]), 1)
            return None
        items = [_value(f, etype, keep) for _ in range(count)]
        return items if keep else None
    raise _GGUFError(f"unknown metadata type {vtype}")


def gguf_metadata(path: Path, keys: Iterable[str] = _WANTED) -> dict[str, Any]:
    """The metadata values named in `keys` from a GGUF file's header (versions 2 and 3); the tensors are not read."""
    wanted = set(keys)
    out: dict[str, Any] = {}
    with open(path, "rb") as f:
        if f.read(4) != b"GGUF":
            raise _GGUFError("not a GGUF file")
        if _read(f, "<I") < 2:
            raise _GGUFError("GGUF version 1 is not supported")
        _read(f, "<Q")  # tensor count
        for _ in range(_read(f, "<Q")):
            key = _string(f)
            keep = key in wanted
            value = _value(f, _read(f, "<I"), keep)
            if keep:
                out[key] = value
                if len(out) == len(wanted):
                    break
    return out


def template_markers(template: str) -> set[str]:
    """Marker-like strings written in a chat template's string literals."""
    literals = re.findall(r"'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"", template or "")
    return {m for pair in literals for lit in pair for m in TEMPLATE_MARKER.findall(lit)}


@lru_cache(maxsize=8)
def gguf_special_strings(path: str) -> frozenset[str]:
    """The strings llama.cpp would read as control tokens in the GGUF at `path`. Empty when unreadable (then
    `neutralise` falls back to the common <|...|> shape)."""
    try:
        meta = gguf_metadata(Path(path))
    except (OSError, _GGUFError, struct.error) as exc:
        log.warning("cannot read the special tokens of %s (%s); guarding the common <|...|> shape only", path, exc)
        return frozenset()
    tokens, types = meta.get("tokenizer.ggml.tokens") or [], meta.get("tokenizer.ggml.token_type") or []
    special = {t for t, kind in zip(tokens, types, strict=False) if kind in (TOKEN_CONTROL, TOKEN_USER_DEFINED)}
    special |= template_markers(meta.get("tokenizer.chat_template") or "")
    return frozenset(s for s in special if len(s.strip()) >= MIN_MARKER_CHARS)


def tokenizer_special_strings(tokenizer: Any) -> frozenset[str]:
    """The same for a Hugging Face tokenizer: its special tokens, its added tokens and its template's markers."""
    special = set(getattr(tokenizer, "all_special_tokens", []) or [])
    decoder = getattr(tokenizer, "added_tokens_decoder", {}) or {}
    special |= {getattr(tok, "content", str(tok)) for tok in decoder.values()}
    template = getattr(tokenizer, "chat_template", "") or ""
    special |= template_markers(template if isinstance(template, str) else " ".join(map(str, template)))
    return frozenset(s for s in special if len(s.strip()) >= MIN_MARKER_CHARS)


@lru_cache(maxsize=8)
def _pattern(specials: frozenset[str]) -> re.Pattern[str]:
    if not specials:
        return FALLBACK
    alternatives = sorted(specials, key=len, reverse=True)  # longest first: "<|im_start|>" before "<|im"
    return re.compile("|".join(map(re.escape, alternatives)) + "|" + FALLBACK.pattern)


def neutralise(text: str, specials: frozenset[str]) -> str:
    """`text` with every special string broken by a zero-width space (inserting can never create a new one)."""
    pattern = _pattern(specials)
    return pattern.sub(lambda m: m.group(0)[0] + BREAK + m.group(0)[1:], text)


def neutralise_messages(messages: list[dict[str, Any]], specials: frozenset[str]) -> list[dict[str, Any]]:
    """Chat messages with every message's content neutralised (the role names are ours)."""
    return [{**m, "content": neutralise(m["content"], specials)} if isinstance(m.get("content"), str) else m
            for m in messages]
