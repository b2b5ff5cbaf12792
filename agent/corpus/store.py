"""The related-writing store: Chroma collections of corpus passages and of dissected papers.

"passages" holds chunks of ingested writing; "papers" holds a summary of each dissected paper, so later
dissections can relate to earlier ones. Every chunk carries its document's metadata (title, author, url,
date, site, doc_id, chunk index, content hash). Upserts are idempotent by content hash: the same text adds
nothing, changed text replaces the document's old chunks. Writes are serialised across processes with a
file lock next to the store (Chroma's on-disk index is not safe for concurrent writers).

Retrieval is hybrid by default: the dense MiniLM ranking and a BM25 ranking of the same chunks
(agent.corpus.lexical, built in memory from what Chroma stores) are fused by reciprocal rank, so that a
paraphrase that shares a few rare words with its source still finds it. A passage's `score` stays its cosine
similarity to the query; only the order comes from the fusion. `hybrid=False` gives the dense ranking alone.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from agent.corpus.embeddings import MiniLMEmbeddingFunction, embed
from agent.corpus.embeddings import configure as configure_embedder
from agent.corpus.lexical import BM25Index, reciprocal_rank_fusion
from agent.errors import StoreError
from agent.models import Passage
from agent.publish.files import sha256
from agent.text.paragraphs import chunk_text

PASSAGES = "passages"
PAPERS = "papers"
MAX_CHUNKS_PER_DOC = 2  # in related(): no three chunks of the same essay
CANDIDATES = 20  # search(): chunks each ranking contributes to the fusion, at least
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


def _http_client(url: str, chroma_settings: Any):
    """A client of the Chroma server at `url` (http[s]://host[:port][/]); the server must answer a heartbeat."""
    import chromadb

    parts = urlsplit(url)
    if not parts.hostname or parts.path.strip("/"):
        raise StoreError(f"store.chroma_url must be http(s)://host[:port], not {url!r}")
    ssl = parts.scheme == "https"
    client = chromadb.HttpClient(host=parts.hostname, port=parts.port or (443 if ssl else 8000), ssl=ssl,
                                 settings=chroma_settings)
    client.heartbeat()
    return client


class Store:
    """The Chroma store: embedded at settings.chroma_dir, or the Chroma server at settings.store.chroma_url (a
    corpus shared by several machines or people). Opening never modifies or deletes existing data."""

    def __init__(self, settings: Any, lock_timeout_s: float = LOCK_TIMEOUT_S):
        self.path = Path(settings.chroma_dir).absolute()  # Chroma caches clients by path string: never a relative one
        self.url = settings.store.chroma_url
        self.lock_timeout_s = lock_timeout_s
        configure_embedder(settings.llm.threads)
        if not self.url and self.path.exists() and not self.path.is_dir():
            raise StoreError(f"the Chroma store path {self.path} exists and is not a folder")
        try:
            import chromadb
            from chromadb.config import Settings as ChromaSettings

            chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
            if self.url:
                self._client = _http_client(self.url, chroma_settings)
            else:
                self.path.mkdir(parents=True, exist_ok=True)
                self._client = chromadb.PersistentClient(path=str(self.path), settings=chroma_settings)
            ef = MiniLMEmbeddingFunction()
            config = {"hnsw": {"space": "cosine"}, "embedding_function": ef}
            self._cols = {
                name: self._client.get_or_create_collection(name, configuration=config, embedding_function=ef)
                for name in (PASSAGES, PAPERS)
            }
        except StoreError:
            raise
        except Exception as exc:  # chromadb raises many untyped errors for a bad folder or an absent server
            if self.url:
                raise StoreError(f"cannot reach the Chroma server at {self.url}: "
                                 f"{' '.join(str(exc).split())[:200]} (is `chroma run` up there?)") from None
            raise StoreError(
                f"cannot open the Chroma store at {self.path}: {exc}. Nothing was changed; "
                "move the folder aside (or point DISSECT_DATA_DIR elsewhere) to start a new store"
            ) from None
        from filelock import FileLock

        # with a server, the server orders writes; the lock still orders this machine's processes
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = FileLock(str(self.path.parent / f".{self.path.name}.write.lock"))
        # collection -> (chunk count it was built at, ids, texts, metadatas, BM25 index); rebuilt lazily after a
        # write by this process or when the count shows another process wrote
        self._lexical: dict[str, tuple[int, list[str], list[str], list[dict], BM25Index]] = {}

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
            self._lexical.clear()
            self._lock.release()

    def _call(self, what: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raise StoreError(f"Chroma store at {self.url or self.path}: {what} failed: {exc}") from None

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

    def add_paper(self, paper_id: str, title: str, url: str, summary_text: str,
                  meta: dict[str, Any]) -> tuple[str, int]:
        """Store a dissected paper (its summary) so that later dissections can relate to it."""
        full = dict(meta) | {"title": title, "url": url, "kind": "paper", "source": url or paper_id}
        return self._upsert(PAPERS, paper_id, summary_text, full)

    def remove(self, url_or_id: str) -> int:
        """Remove every chunk of the documents or papers with this doc id, URL or source path; returns the number
        of chunks removed."""
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

    def _query_each(self, collection: str, vectors: np.ndarray, n: int, where=None, with_embeddings=False):
        """Per query vector, its n nearest chunks as (id, text, metadata, cosine similarity, embedding|None)."""
        col = self._cols[collection]
        count = self._call("count", col.count)
        if count == 0 or n <= 0:
            return [[] for _ in range(len(vectors))]
        include = ["documents", "metadatas", "distances"] + (["embeddings"] if with_embeddings else [])
        res = self._call(
            "query", col.query, query_embeddings=vectors, n_results=min(n, count), where=where, include=include
        )
        out = []
        for q in range(len(vectors)):
            embs = res["embeddings"][q] if with_embeddings else [None] * len(res["ids"][q])
            out.append([(cid, doc, meta or {}, _score(dist), emb) for cid, doc, meta, dist, emb in zip(
                res["ids"][q], res["documents"][q], res["metadatas"][q], res["distances"][q], embs, strict=True)])
        return out

    def _lexical_index(self, collection: str) -> tuple[list[str], list[str], list[dict], BM25Index]:
        """The BM25 index of a collection's chunks, built on first use and after the collection changed."""
        count = self._call("count", self._cols[collection].count)
        cached = self._lexical.get(collection)
        if cached is None or cached[0] != count:
            ids, docs, metas = self._all_chunks(collection)
            cached = (count, ids, docs, metas, BM25Index(docs))
            self._lexical[collection] = cached
        return cached[1], cached[2], cached[3], cached[4]

    def _lexical_each(self, collection: str, vectors: np.ndarray, queries: list[str], n: int, where=None):
        """Per query, its n best BM25 chunks as rows like _query_each's: (id, text, metadata, cosine similarity,
        embedding). The similarity is computed from the stored embedding, so that a passage found by its words
        reports the same kind of score as one found by its meaning."""
        ids, docs, metas, index = self._lexical_index(collection)
        among = None
        if where is not None:  # Chroma evaluates the filter; BM25 then ranks only what passed it
            allowed = set(self._call("get", self._cols[collection].get, where=where, include=[])["ids"])
            among = np.array([cid in allowed for cid in ids], dtype=bool)
        per_query = [[i for i, _ in index.top(q, n, among)] for q in queries]
        wanted = sorted({ids[i] for hits in per_query for i in hits})
        if not wanted:
            return [[] for _ in queries]
        got = self._call("get", self._cols[collection].get, ids=wanted, include=["embeddings"])
        emb_of = {cid: np.asarray(e, dtype=np.float32) for cid, e in zip(got["ids"], got["embeddings"], strict=True)}
        out = []
        for q, hits in enumerate(per_query):
            rows = []
            for i in hits:
                emb = emb_of.get(ids[i])
                if emb is None:  # removed by another process since the index was built
                    continue
                cosine = float(min(1.0, max(0.0, np.dot(vectors[q], emb))))
                rows.append((ids[i], docs[i], metas[i], cosine, emb))
            out.append(rows)
        return out

    def search(self, query: str, k: int = 5, where: dict | None = None, collection: str = PASSAGES, *,
               hybrid: bool = True) -> list[Passage]:
        """The k chunks that best match the query, best first (dense and BM25 rankings fused unless
        hybrid=False); score = cosine similarity."""
        if not query.strip() or k <= 0:
            return []
        vectors = embed([query])
        dense = self._query_each(collection, vectors, k if not hybrid else max(3 * k, CANDIDATES), where=where)[0]
        if not hybrid:
            return [_passage(cid, doc, meta, score) for cid, doc, meta, score, _ in dense[:k]]
        lexical = self._lexical_each(collection, vectors, [query], max(3 * k, CANDIDATES), where=where)[0]
        rows = {row[0]: row for row in [*lexical, *dense]}
        fused = reciprocal_rank_fusion([[r[0] for r in dense], [r[0] for r in lexical]])
        return [_passage(cid, rows[cid][1], rows[cid][2], rows[cid][3]) for cid, _ in fused[:k]]

    def related(
        self,
        queries: list[str],
        k: int,
        exclude_text: str = "",
        exclude_ids: set[str] | frozenset[str] = frozenset(),
        *,
        hybrid: bool = True,
    ) -> list[Passage]:
        """Related writing for a paper, retrieved with several queries (its claims) over corpus and papers.

        Each query ranks chunks by meaning and (unless hybrid=False) by BM25; all these rankings are fused by
        reciprocal rank. At most MAX_CHUNKS_PER_DOC per document, with the paper itself left out: chunks of a
        document whose id/url/source is in exclude_ids, chunks whose text is contained in exclude_text, and
        chunks whose embedding is nearly that of exclude_text's opening. Scores are cosine similarities (the
        best over the queries).
        """
        queries = [q for q in queries if q and q.strip()]
        if not queries or k <= 0:
            return []
        vectors = embed(queries)
        self_vec = embed([exclude_text])[0] if exclude_text.strip() else None
        self_shingles = _shingles(exclude_text) if exclude_text else set()
        excluded = {str(x) for x in exclude_ids if x}
        best: dict[str, tuple[float, str, dict, Any]] = {}
        rankings: list[list[str]] = []
        for collection in (PASSAGES, PAPERS):
            per_query = self._query_each(collection, vectors, 3 * k, with_embeddings=True)
            if hybrid:
                per_query += self._lexical_each(collection, vectors, queries, 3 * k)
            for rows in per_query:
                rankings.append([row[0] for row in rows])
                for cid, doc, meta, score, emb in rows:
                    if cid not in best or score > best[cid][0]:
                        best[cid] = (score, doc, meta, emb)
        # rank = fused rank when hybrid; else the best cosine similarity, as before
        order = ([cid for cid, _ in reciprocal_rank_fusion(rankings)] if hybrid
                 else sorted(best, key=lambda c: -best[c][0]))
        # A document any of whose retrieved chunks is the paper itself is left out whole: its other chunks
        # are the rest of the same paper.
        self_docs: set[str] = set()
        for cid, (_, doc, meta, emb) in best.items():
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
        for cid in order:
            score, doc, meta, emb = best[cid]
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

    def _all_chunks(self, collection: str) -> tuple[list[str], list[str], list[dict[str, Any]]]:
        """Every chunk of a collection: (ids, texts, metadatas), in a stable order."""
        col = self._cols[collection]
        ids: list[str] = []
        docs: list[str] = []
        metas: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = self._call("get", col.get, include=["documents", "metadatas"], limit=_PAGE, offset=offset)
            ids.extend(page["ids"])
            docs.extend(d or "" for d in page["documents"])
            metas.extend(m or {} for m in page["metadatas"])
            if len(page["ids"]) < _PAGE:
                return ids, docs, metas
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
            "path": self.url or str(self.path),
        }
