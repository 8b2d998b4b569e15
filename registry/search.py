"""Searching the register by KK, NIK, name or address, fast at a million families.

A name search finds members by the typed text (case aside; spaces collapsed). On PostgreSQL three indexes on
``registry_member.name`` serve it (migration 0004):

1. the words of names (full-text, 'simple' configuration: lower-cased, no stemming): the typed words as a
   phrase of whole words ("siti aminah" finds "Siti Aminah Siregar"). Cheap whatever the name: one short
   posting list per word. When some name has these words, they are the answer;
2. only when no name has them (part of a word, "ndayani"; a name being typed, "siti amin"; punctuation),
   trigrams of ``UPPER(name)`` (pg_trgm): Django's ``icontains`` is ``UPPER(name) LIKE UPPER('%text%')``,
   the very expression indexed, so any part of a name is found. Dearer (40-90 ms for a long text of common
   letters: it intersects posting lists of up to a million entries), hence second;
3. a whole name (Cek Bansos' ``iexact``) is a B-tree lookup on ``UPPER(name)``.

Addresses are searched through a trigram index on ``UPPER(address)`` the same way. A search collects at most
``MATCH_LIMIT`` families (LIMITed reads that stop early) and says when there are more; the list is ordered,
paged and counted within those. Wildcards typed by the user are literal (Django escapes ``%`` and ``_`` in
``icontains``; the phrase query has no wildcards). Text no index can serve (too long, or without three
letters or digits in a row, such as ``%%%``) is refused before any query.

On SQLite (``make run``) step (2) runs alone, as LIKE over the rows: fine at demo size.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Lookup, QuerySet
from django.utils.translation import gettext as _

from .models import Member
from .validators import is_ascii_digits

MAX_SEARCH_LENGTH = 120  # a member's name holds at most 120 characters
MIN_RUN = 3  # a trigram index needs three letters or digits in a row to narrow anything
MATCH_LIMIT = 200  # families collected for one search: 8 pages of 25; past that, narrowing helps more
# Rows read per query: one more than can be listed says "more". Several people of one family may match
# (a marga), so a search can stop with fewer than MATCH_LIMIT distinct families; it then still says "more".
ROW_LIMIT = MATCH_LIMIT + 1

_RUN = re.compile(rf"[^\W_]{{{MIN_RUN}}}")
_WORDS = re.compile(r"[^\W_]+( [^\W_]+)*")  # letters and digits only: the words index reads nothing else


def validate_search_length(value: str) -> None:
    """The one length rule of every search by name (the portal's lists, the API, Cek Bansos)."""
    if len(value) > MAX_SEARCH_LENGTH:
        raise ValidationError(_("Type at most %(n)d characters to search.") % {"n": MAX_SEARCH_LENGTH},
                              code="too_long")


def validate_search_text(value: str) -> None:
    """Refuse text the indexes cannot serve, with a message saying what to type instead."""
    validate_search_length(value)
    if value and not _RUN.search(value):  # "%%%", "__", spaces only: nothing an index can narrow
        raise ValidationError(
            _("Type at least %(n)d letters or digits in a row: part of a name, a KK number or a NIK.")
            % {"n": MIN_RUN}, code="too_short")


def normalise(value: str) -> str:
    """Spaces collapsed, so "Siti  Aminah " finds "Siti Aminah"."""
    return " ".join(value.split())


class Words(Lookup):
    """``name__words="siti aminah"``: the words as a phrase in the name, through the full-text index
    ``member_name_words`` (the expression here is the index's, so PostgreSQL can use it)."""

    lookup_name = "words"

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return (f"to_tsvector('simple'::regconfig, COALESCE({lhs}, '')) @@ "
                f"phraseto_tsquery('simple'::regconfig, {rhs})", [*lhs_params, *rhs_params])


Member._meta.get_field("name").register_lookup(Words)  # only where the index is


@dataclass
class Matches:
    families: QuerySet
    more: bool  # more than MATCH_LIMIT families match; only the first MATCH_LIMIT are in ``families``


def _limited(source: QuerySet) -> QuerySet:
    # No ORDER BY: any ROW_LIMIT matching rows will do, so PostgreSQL can stop as soon as it has them.
    return source.order_by().values_list("pk", flat=True)[:ROW_LIMIT]


def _words_first(text: str) -> bool:
    # Punctuation ("siti%aminah", "o'neil") would be a word break to the full-text parser, not a literal
    # character: such text goes to the trigrams alone.
    return connection.vendor == "postgresql" and not is_ascii_digits(text) and bool(_WORDS.fullmatch(text))


def match_sources(families: QuerySet, text: str, *, addresses: bool = True) -> list[QuerySet]:
    """The id queries a search may run, in order (each LIMITed to ``ROW_LIMIT`` rows, in no particular
    order); on PostgreSQL a name search starts with the words index (see the module's docstring)."""
    text = normalise(text)
    if is_ascii_digits(text):
        return [_limited(families.filter(kk_number=text)), _limited(families.filter(members__nik=text))]
    sources = [families.filter(members__name__icontains=text)]
    if _words_first(text):
        sources.insert(0, families.filter(members__name__words=text))
    if addresses:
        sources.append(families.filter(address__icontains=text))
    return [_limited(source) for source in sources]


def families_matching(families: QuerySet, text: str, *, addresses: bool = True) -> Matches:
    """``families`` (already scoped and filtered) narrowed to those with this KK or NIK (all digits), or
    with a member whose name contains ``text`` (or, with ``addresses``, whose address contains it).

    Short indexed queries collect the matching families' ids (the trigram one only when no name has the
    typed words); the returned queryset filters by them, so its ordering, paging and COUNT work on at most
    ``MATCH_LIMIT`` rows."""
    sources = match_sources(families, text, addresses=addresses)
    words_first = _words_first(normalise(text))
    per_source: list[list[int]] = []
    for index, source in enumerate(sources):
        if words_first and index == 1 and per_source[0]:
            continue  # names with these very words: they are the answer, no need for the dearer trigrams
        per_source.append(list(source))
    ids = list(dict.fromkeys(row for rows in per_source for row in rows))
    more = len(ids) > MATCH_LIMIT or any(len(rows) >= ROW_LIMIT for rows in per_source)
    return Matches(families.filter(pk__in=ids[:MATCH_LIMIT]), more)
