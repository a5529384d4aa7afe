"""Ranked search over service types, for counter operators typing in Bahasa Indonesia.

Copes with case and accents, abbreviations and synonyms (from the catalogue's own aliases and keywords, plus a
small table of Indonesian spelling variants), light Indonesian affixes (kelahiran ~ lahir, perpanjangan ~
perpanjang) and small typos (optimal-string-alignment distance 1, or 2 for words of 7+ letters).

Typo distance is rapidfuzz's OSA (C), replacing our former pure-Python Damerau-Levenshtein; the candidates it
is computed for still come from a symmetric-delete index, so a lookup does not scan the vocabulary. Measured on
the Kukar catalogue (1,649 index terms; the same neighbours found by every variant): typo words (vocabulary
words with 1-2 random edits) 64,000 words/s with the delete index + rapidfuzz, 6,300 with the former code,
13,700 with a rapidfuzz scan of the whole vocabulary (process.extract, no delete index); words with no neighbour
51,000, about 12,000 and 12,300 words/s. The scan would drop the delete index (34,000 keys, 0.03 s to build,
about 6 MB) but is four times slower and grows with the vocabulary, so the index stays.

Scoring, per query word: the best match in a service's fields (weight by field x match quality x IDF), summed
and divided by what a perfect match would score, so scores are comparable across queries (about 0..1). A query
that equals a service's name, alias or code (after the same normalisation and spelling correction) gets a bonus,
which is how "kk" lands on the new-KK service rather than on every service mentioning a family card.
Build the index once per catalogue version (``SearchIndex.of(catalogue)``).
"""

from __future__ import annotations

import math
import re
import unicodedata
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence

from rapidfuzz.distance import OSA

from catalog.domain import Catalogue, ServiceType

# Function words and request verbs that say nothing about which service is meant.
STOPWORDS: frozenset[str] = frozenset(
    "dan atau di ke dari untuk yang dengan bagi pada oleh atas dalam cara syarat persyaratan mau ingin urus "
    "mengurus bikin buat membuat tolong bagaimana apa saya kami mohon minta".split()
)

# Spelling variants and everyday words an operator types, mapped to the words the standar pelayanan uses.
# Catalogue-specific abbreviations (kk, skck, npwp...) belong in the data's aliases, not here.
DEFAULT_SYNONYMS: Mapping[str, tuple[str, ...]] = {
    "akte": ("akta",),
    "ijin": ("izin",),
    "pasport": ("paspor",),
    "passport": ("paspor",),
    "pasfor": ("paspor",),
    "sertipikat": ("sertifikat",),
    "serifikat": ("sertifikat",),
    "materai": ("meterai",),
    "ektp": ("ktp",),
    "ktpel": ("ktp",),
    "meninggal": ("kematian", "mati"),
    "wafat": ("kematian", "mati"),
    "nikah": ("perkawinan", "kawin"),
    "pernikahan": ("perkawinan", "nikah"),
    "kawin": ("nikah",),
    "lahir": ("kelahiran",),
    "perpanjang": ("perpanjangan",),
    "rubah": ("ubah", "perubahan"),
    "ganti": ("penggantian", "perubahan"),
    "hilang": ("kehilangan",),
    "motor": ("sepeda", "r2"),
    "mobil": ("r4",),
    "pensiunan": ("pensiun",),
    "sekolah": ("pendidikan",),
}

FIELD_WEIGHTS: Mapping[str, float] = {
    "name": 3.0,
    "alias": 3.0,
    "code": 2.0,
    "keyword": 2.0,
    "product": 1.0,
    "agency": 1.0,
}
TOP_WEIGHT = max(FIELD_WEIGHTS.values())

EXACT, SYNONYM, STEM, PREFIX, FUZZY1, FUZZY2 = 1.0, 0.95, 0.9, 0.75, 0.7, 0.5
PHRASE_BONUS, CORRECTED_PHRASE_BONUS, CONTAINED_PHRASE_BONUS = 1.0, 0.8, 0.25

_COMBINING = re.compile(r"[\u0300-\u036f]")
_DIGIT_DOT = re.compile(r"(?<=\d)[.,](?=\d{3}\b)")
_HYPHENATED = re.compile(r"\b[\w]+(?:-[\w]+)+\b")
_NON_WORD = re.compile(r"[^0-9a-z]+")


def normalize(text: str) -> str:
    """Lower case, accents stripped, thousands separators dropped, punctuation to spaces."""
    text = unicodedata.normalize("NFKD", text)
    text = _COMBINING.sub("", text).lower()
    return _DIGIT_DOT.sub("", text)


def tokenize(text: str) -> list[str]:
    """Words of ``text``; hyphenated words also yield their joined form (KTP-el -> ktp, el, ktpel)."""
    norm = normalize(text)
    words = _NON_WORD.split(norm)
    joined = ["".join(_NON_WORD.split(h)) for h in _HYPHENATED.findall(norm)]
    return [w for w in (*words, *joined) if w]


def content_words(text: str) -> list[str]:
    """Words that carry meaning: tokenize() minus stopwords (unless nothing else is left)."""
    words = [w for w in _NON_WORD.split(normalize(text)) if w]
    kept = [w for w in words if w not in STOPWORDS]
    return kept or words


def stem(word: str) -> str:
    """A deliberately light Indonesian stemmer for the confix patterns common in service names."""
    if len(word) < 6 or not word.isalpha():
        return word
    for prefix, suffix in (("ke", "an"), ("per", "an"), ("peng", "an"), ("pen", "an"), ("pem", "an")):
        if word.startswith(prefix) and word.endswith(suffix) and len(word) - len(prefix) - len(suffix) >= 3:
            return word[len(prefix) : -len(suffix)]
    if word.startswith("per") and len(word) >= 7:
        return word[3:]
    if word.endswith("an") and len(word) >= 7:
        return word[:-2]
    return word


def _max_edits(word: str) -> int:
    if len(word) < 4:
        return 0
    return 1 if len(word) < 7 else 2


def _deletes(word: str, depth: int) -> set[str]:
    """``word`` and every string made by deleting up to ``depth`` of its letters."""
    out = {word}
    frontier = {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w)) if len(w) > 1}
        out |= frontier
    return out


class SearchIndex:
    """Inverted index over a fixed list of service types. Thread-safe for reads after construction."""

    @classmethod
    def of(cls, catalogue: Catalogue) -> SearchIndex:
        """The index the service searches with: its services, with their agency's names and aliases."""
        return cls(
            catalogue.services,
            agency_names={a.code: (a.short_name, *a.aliases) for a in catalogue.agencies},
        )

    def __init__(
        self,
        services: Iterable[ServiceType],
        synonyms: Mapping[str, Sequence[str]] = DEFAULT_SYNONYMS,
        agency_names: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        """``agency_names`` optionally maps an agency code to extra words (name, aliases) to index."""
        self.services: tuple[ServiceType, ...] = tuple(services)
        self._synonyms = {normalize(k): tuple(normalize(v) for v in vs) for k, vs in synonyms.items()}
        weights: list[dict[str, float]] = []
        self._phrases: dict[str, set[int]] = {}
        for i, service in enumerate(self.services):
            fields: list[tuple[str, str]] = [("name", service.name), ("product", service.product)]
            fields += [("alias", a) for a in service.aliases]
            fields += [("keyword", k) for k in service.keywords]
            fields += [("code", service.code.replace("-", " ")), ("agency", service.agency_code)]
            fields += [("agency", n) for n in (agency_names or {}).get(service.agency_code, ())]
            term_weights: dict[str, float] = {}
            for field, text in fields:
                weight = FIELD_WEIGHTS[field]
                for term in tokenize(text):
                    if term_weights.get(term, 0.0) < weight:
                        term_weights[term] = weight
            weights.append(term_weights)
            for phrase in (service.name, service.code.replace("-", " "), *service.aliases):
                key = " ".join(content_words(phrase))
                if key:
                    self._phrases.setdefault(key, set()).add(i)

        self._postings: dict[str, list[tuple[int, float]]] = {}
        for i, term_weights in enumerate(weights):
            for term, weight in term_weights.items():
                self._postings.setdefault(term, []).append((i, weight))
        n = max(len(self.services), 1)
        self._idf = {term: math.log(1.0 + n / len(posts)) for term, posts in self._postings.items()}
        self._unknown_idf = math.log(1.0 + n)
        self._vocab = sorted(self._postings)
        self._by_stem: dict[str, list[str]] = {}
        # Two words within k edits share a string reached by at most k deletions from each.
        self._deletes: dict[str, list[str]] = {}
        for term in self._vocab:
            self._by_stem.setdefault(stem(term), []).append(term)
            for variant in _deletes(term, _max_edits(term)):
                self._deletes.setdefault(variant, []).append(term)
        self._cache: dict[str, tuple[tuple[str, float], ...]] = {}

    # --- query side ---------------------------------------------------------------------------------------

    def expand(self, word: str) -> tuple[tuple[str, float], ...]:
        """Index terms a query word may mean, each with a match quality in (0, 1]."""
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        found: dict[str, float] = {}

        def add(term: str, quality: float) -> None:
            if term in self._postings and found.get(term, 0.0) < quality:
                found[term] = quality

        add(word, EXACT)
        for syn in self._synonyms.get(word, ()):
            add(syn, SYNONYM)
        for term in self._by_stem.get(stem(word), ()):
            add(term, STEM)
        if len(word) >= 4:
            start = bisect_left(self._vocab, word)
            for term in self._vocab[start : start + 50]:
                if not term.startswith(word):
                    break
                add(term, PREFIX)
        if not found or max(found.values()) < STEM:
            for term, dist in self.typo_neighbours(word):
                quality = FUZZY1 if dist <= 1 else FUZZY2
                add(term, quality)
                for syn in self._synonyms.get(term, ()):
                    add(syn, quality * SYNONYM)
        result = tuple(sorted(found.items(), key=lambda kv: (-kv[1], kv[0])))
        if len(self._cache) > 50_000:  # bounded: operators' vocabulary is small, but never grow without limit
            self._cache.clear()
        self._cache[word] = result
        return result

    def typo_neighbours(self, word: str) -> list[tuple[str, int]]:
        """Index terms within the edits allowed for both words (short words get fewer), with the distance."""
        limit = _max_edits(word)
        if not limit:
            return []
        candidates = {term for variant in _deletes(word, limit) for term in self._deletes.get(variant, ())}
        found = [(term, OSA.distance(word, term, score_cutoff=limit)) for term in sorted(candidates)]
        return [(term, dist) for term, dist in found if dist <= min(limit, max(_max_edits(term), 1))]

    def search(self, query: str, limit: int = 10, offset: int = 0) -> list[tuple[ServiceType, float]]:
        """Services best matching ``query``, best first, as (service, score); empty for a blank query."""
        if limit <= 0 or offset < 0:
            return []
        words = content_words(query)
        if not words:
            return []
        scores: dict[int, float] = {}
        possible = 0.0
        corrected: list[str] = []
        for word in words:
            candidates = self.expand(word)
            if not candidates:
                possible += TOP_WEIGHT * self._unknown_idf
                corrected.append(word)
                continue
            corrected.append(candidates[0][0])
            # The word is as informative as its best reading: a rare prefix or typo neighbour must not
            # outweigh the exact word ("sim" vs "simpel").
            idf = self._idf[candidates[0][0]]
            best: dict[int, float] = {}
            for term, quality in candidates:
                for i, weight in self._postings[term]:
                    value = quality * weight * idf
                    if value > best.get(i, 0.0):
                        best[i] = value
            possible += candidates[0][1] * TOP_WEIGHT * idf
            for i, value in best.items():
                scores[i] = scores.get(i, 0.0) + value
        if not scores:
            return []
        for i in scores:
            scores[i] /= possible
        self._phrase_bonus(" ".join(words), " ".join(corrected), scores)
        ranked = sorted(
            scores.items(), key=lambda kv: (-kv[1], len(self.services[kv[0]].name), self.services[kv[0]].code)
        )
        return [(self.services[i], round(score, 4)) for i, score in ranked[offset : offset + limit]]

    def _phrase_bonus(self, phrase: str, corrected: str, scores: dict[int, float]) -> None:
        exact = self._phrases.get(phrase, set())
        for i in exact:
            scores[i] = scores.get(i, 0.0) + PHRASE_BONUS
        if corrected != phrase:
            for i in self._phrases.get(corrected, set()) - exact:
                scores[i] = scores.get(i, 0.0) + CORRECTED_PHRASE_BONUS
        if not exact and " " in corrected:
            # Multi-word queries contained in a longer alias or name ("akta kematian" in "akta kematian hilang"),
            # the closer in length the better; at most one such bonus per service.
            needle = f" {corrected} "
            contained: dict[int, float] = {}
            for key, ids in self._phrases.items():
                if needle in f" {key} ":
                    bonus = CONTAINED_PHRASE_BONUS / (1 + key.count(" ") - corrected.count(" "))
                    for i in ids:
                        contained[i] = max(contained.get(i, 0.0), bonus)
            for i, bonus in contained.items():
                scores[i] = scores.get(i, 0.0) + bonus
