"""The related-writing store: Chroma collections of corpus passages and of dissected papers.

"passages" holds chunks of ingested writing; "papers" holds a summary of each dissected paper, so later
dissections can relate to earlier ones. Every chunk carries its document's metadata (title, author, url,
date, site, doc_id, chunk index, content hash). Upserts are idempotent by content hash: the same text adds
nothing, changed text replaces the document's old chunks. Writes are serialised across processes with a
file lock next to the store (Chroma's on-disk index is not safe for concurrent writers).
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from agent.corpus.embeddings import MiniLMEmbeddingFunction, embed
from agent.errors import StoreError
from agent.models import Passage
from agent.publish.files import sha256
from agent.text.paragraphs import chunk_text

PASSAGES = "passages"
PAPERS = "papers"
MAX_CHUNKS_PER_DOC = 2  # in related(): no three chunks of the same essay
SELF_DUPLICATE_SIM = 0.95  # a chunk this close to the paper itself is the paper, not related writing
LOCK_TIMEOUT_S = 30.0
_PAGE = 1000  # rows per get() when listing

# ---- the store ---------------------------------------------------------------------------------------


def _clean_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """Chroma accepts only str/int/float/bool values: drop None, join lists."""
    out: dict[str, Any] = {}
    for key, value in meta.items():
        if value is None:
            continue
        if isinstance(value, (list, tuple, set)):
            value = ", ".join(str(v) for v in value)
        elif not isinstance(value, (str, int, float, bool)):
            value = str(value)
        out[str(key)] = value
    return out


def _score(distance: float) -> float:
    """Chroma's cosine distance -> cosine similarity clipped to [0, 1]."""
    return float(min(1.0, max(0.0, 1.0 - distance)))


def _passage(chunk_id: str, text: str, meta: dict[str, Any], score: float) -> Passage:
    return Passage(
        id=chunk_id,
        text=text or "",
        title=str(meta.get("title", "")),
        url=str(meta.get("url") or meta.get("source") or ""),
        author=str(meta.get("author", "")),
        score=round(score, 4),
    )


def _same_source(excluded: str, locator: str) -> bool:
    """True when a stored locator names the excluded source: equal, or a URL ending in it (an arXiv id
    matches https://arxiv.org/abs/<id>v2 and .../pdf/<id>.pdf)."""
    if excluded == locator:
        return True
    pattern = r"/" + re.escape(excluded.rstrip("/")) + r"(v\d+)?(\.pdf)?/?$"
    return "/" in locator and re.search(pattern, locator) is not None


def _shingles(text: str, n: int = 8) -> set[int]:
    words = re.findall(r"\w+", text.lower())
    return {hash(tuple(words[i : i + n])) for i in range(max(0, len(words) - n + 1))}


class Store:
    """The Chroma store at settings.chroma_dir. Opening never modifies or deletes existing data."""

    def __init__(self, settings: Any, lock_timeout_s: float = LOCK_TIMEOUT_S):
        self.path = Path(settings.chroma_dir)
        self.lock_timeout_s = lock_timeout_s
        if self.path.exists() and not self.path.is_dir():
            raise StoreError(f"the Chroma store path {self.path} exists and is not a folder")
        try:
            import chromadb
            from chromadb.config import Settings as ChromaSettings

            self.path.mkdir(parents=True, exist_ok=True)
            self._client = chromadb.PersistentClient(
                path=str(self.path), settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False)
            )
            ef = MiniLMEmbeddingFunction()
            config = {"hnsw": {"space": "cosine"}, "embedding_function": ef}
            self._cols = {
                name: self._client.get_or_create_collection(name, configuration=config, embedding_function=ef)
                for name in (PASSAGES, PAPERS)
            }
        except StoreError:
            raise
        except Exception as exc:  # chromadb raises many untyped errors for a bad folder
            raise StoreError(
                f"cannot open the Chroma store at {self.path}: {exc}. Nothing was changed; "
                "move the folder aside (or point DISSECT_DATA_DIR elsewhere) to start a new store"
            ) from None
        from filelock import FileLock

        self._lock = FileLock(str(self.path.parent / f".{self.path.name}.write.lock"))

    # -- writes ------------------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[None]:
        from filelock import Timeout

        try:
            self._lock.acquire(timeout=self.lock_timeout_s)
        except Timeout:
            raise StoreError(
                f"the Chroma store at {self.path} is locked by another dissect process; try again later"
            ) from None
        try:
            yield
        finally:
            self._lock.release()

    def _call(self, what: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raise StoreError(f"Chroma store at {self.path}: {what} failed: {exc}") from None

    def _upsert(self, collection: str, doc_id: str, text: str, meta: dict[str, Any], force: bool = False
                ) -> tuple[str, int]:
        col = self._cols[collection]
        chunks = chunk_text(text)
        if not chunks:
            raise StoreError(f"document {doc_id} has no text to store")
        content_hash = sha256(text, 16)
        # Chunk ids carry the content hash, so new chunks are written beside (or, when forced, over) the old ones
        # before the stale ones go: an interruption leaves one complete version or both, never a partial one.
        ids = [f"{doc_id}#{content_hash[:8]}#{i:04d}" for i in range(len(chunks))]
        with self._write():
            old_ids = self._call("get", col.get, where={"doc_id": doc_id}, include=[])["ids"]
            stale = [i for i in old_ids if i not in set(ids)]
            if not force and not stale and set(old_ids) == set(ids):
                return "unchanged", len(chunks)
            base = _clean_meta(meta) | {"doc_id": doc_id, "content_hash": content_hash, "n_chunks": len(chunks)}
            metas = [base | {"chunk": i} for i in range(len(chunks))]
            self._call("add", col.upsert, ids=ids, embeddings=embed(chunks), documents=chunks, metadatas=metas)
            if stale:
                self._call("delete", col.delete, ids=stale)
        return ("replaced" if old_ids else "added"), len(chunks)

    def upsert_document(self, doc_id: str, text: str, meta: dict[str, Any], *, force: bool = False
                        ) -> tuple[str, int]:
        """Store a corpus document; returns ("added" | "unchanged" | "replaced", number of chunks).
        force: replace it even when its text is unchanged (e.g. after a chunking change)."""
        return self._upsert(PASSAGES, doc_id, text, meta, force)

    def add_paper(self, paper_id: str, title: str, url: str, summary_text: str, meta: dict[str, Any]) -> tuple[str, int]:
        """Store a dissected paper (its summary) so that later dissections can relate to it."""
        full = dict(meta) | {"title": title, "url": url, "kind": "paper", "source": url or paper_id}
        return self._upsert(PAPERS, paper_id, summary_text, full)

    def remove(self, url_or_id: str) -> int:
        """Remove every chunk of the documents or papers with this doc id, URL or source path; returns chunks removed."""
        where = {"$or": [{"doc_id": url_or_id}, {"url": url_or_id}, {"source": url_or_id}]}
        removed = 0
        with self._write():
            for col in self._cols.values():
                ids = self._call("get", col.get, where=where, include=[])["ids"]
                if ids:
                    self._call("delete", col.delete, ids=ids)
                    removed += len(ids)
        return removed

    # -- reads -------------------------------------------------------------------------------------

    def _query(self, collection: str, vectors: np.ndarray, n: int, where=None, with_embeddings=False):
        col = self._cols[collection]
        count = self._call("count", col.count)
        if count == 0 or n <= 0:
            return []
        include = ["documents", "metadatas", "distances"] + (["embeddings"] if with_embeddings else [])
        res = self._call(
            "query", col.query, query_embeddings=vectors, n_results=min(n, count), where=where, include=include
        )
        rows = []
        for q in range(len(vectors)):
            embs = res["embeddings"][q] if with_embeddings else [None] * len(res["ids"][q])
            for cid, doc, meta, dist, emb in zip(
                res["ids"][q], res["documents"][q], res["metadatas"][q], res["distances"][q], embs
            ):
                rows.append((cid, doc, meta or {}, _score(dist), emb))
        return rows

    def search(self, query: str, k: int = 5, where: dict | None = None, collection: str = PASSAGES) -> list[Passage]:
        """The k chunks most similar to the query, best first, score = cosine similarity."""
        if not query.strip():
            return []
        rows = self._query(collection, embed([query]), k, where=where)
        return [_passage(cid, doc, meta, score) for cid, doc, meta, score, _ in rows]

    def related(
        self,
        queries: list[str],
        k: int,
        exclude_text: str = "",
        exclude_ids: set[str] | frozenset[str] = frozenset(),
    ) -> list[Passage]:
        """Related writing for a paper, retrieved with several queries (its claims) over corpus and papers.

        Results are merged (best score per chunk), at most MAX_CHUNKS_PER_DOC per document, with the paper
        itself left out: chunks of a document whose id/url/source is in exclude_ids, chunks whose text is
        contained in exclude_text, and chunks whose embedding is nearly that of exclude_text's opening.
        """
        queries = [q for q in queries if q and q.strip()]
        if not queries or k <= 0:
            return []
        vectors = embed(queries)
        self_vec = embed([exclude_text])[0] if exclude_text.strip() else None
        self_shingles = _shingles(exclude_text) if exclude_text else set()
        excluded = {str(x) for x in exclude_ids if x}
        best: dict[str, tuple[float, str, dict, Any]] = {}
        for collection in (PASSAGES, PAPERS):
            for cid, doc, meta, score, emb in self._query(collection, vectors, 3 * k, with_embeddings=True):
                if cid not in best or score > best[cid][0]:
                    best[cid] = (score, doc, meta, emb)
        # A document any of whose retrieved chunks is the paper itself is left out whole: its other chunks
        # are the rest of the same paper.
        self_docs: set[str] = set()
        for cid, (score, doc, meta, emb) in best.items():
            doc_key = str(meta.get("doc_id", cid))
            locs = [doc_key, str(meta.get("url", "")), str(meta.get("source", ""))]
            if any(_same_source(x, loc) for x in excluded for loc in locs if loc):
                self_docs.add(doc_key)
            elif self_vec is not None and emb is not None and float(np.dot(self_vec, emb)) > SELF_DUPLICATE_SIM:
                self_docs.add(doc_key)
            elif self_shingles:
                sh = _shingles(doc)
                if sh and len(sh & self_shingles) / len(sh) > 0.5:  # the chunk's text is mostly in the paper
                    self_docs.add(doc_key)
        out: list[Passage] = []
        per_doc: dict[str, int] = {}
        for cid, (score, doc, meta, emb) in sorted(best.items(), key=lambda kv: -kv[1][0]):
            doc_key = str(meta.get("doc_id", cid))
            if doc_key in self_docs or per_doc.get(doc_key, 0) >= MAX_CHUNKS_PER_DOC:
                continue
            per_doc[doc_key] = per_doc.get(doc_key, 0) + 1
            out.append(_passage(cid, doc, meta, score))
            if len(out) == k:
                break
        return out

    def _all_metadatas(self, collection: str) -> list[dict[str, Any]]:
        col = self._cols[collection]
        metas: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = self._call("get", col.get, include=["metadatas"], limit=_PAGE, offset=offset)
            metas.extend(m or {} for m in page["metadatas"])
            if len(page["ids"]) < _PAGE:
                return metas
            offset += _PAGE

    def list_documents(self) -> list[dict[str, Any]]:
        """One row per stored document or paper: doc_id, title, author, url/source, date, chunks, collection."""
        docs: dict[tuple[str, str], dict[str, Any]] = {}
        for collection in (PASSAGES, PAPERS):
            for meta in self._all_metadatas(collection):
                key = (collection, str(meta.get("doc_id", "")))
                row = docs.setdefault(key, {
                    "doc_id": key[1],
                    "title": meta.get("title", ""),
                    "author": meta.get("author", ""),
                    "url": meta.get("url") or meta.get("source", ""),
                    "date": meta.get("date", ""),
                    "site": meta.get("site", ""),
                    "collection": collection,
                    "chunks": 0,
                })
                row["chunks"] += 1
        return sorted(docs.values(), key=lambda r: (r["collection"] != PASSAGES, str(r["title"]).lower()))

    def stats(self) -> dict[str, Any]:
        docs = self.list_documents()
        size = sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file())
        return {
            "documents": sum(1 for d in docs if d["collection"] == PASSAGES),
            "chunks": self._call("count", self._cols[PASSAGES].count),
            "papers": sum(1 for d in docs if d["collection"] == PAPERS),
            "size_bytes": size,
            "path": str(self.path),
        }
