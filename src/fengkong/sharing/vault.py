"""The consortium hashes of tokenised identifiers, taken at the edge.

Phone, ID and card numbers are replaced by member-keyed tokens before anything sees
them, so neither an export nor the matching stage can recover the number later.
:class:`SharingTokenizer` computes, at that moment, the consortium hash of the
canonical value under every configured consortium key and records ``token -> hash``
(never the number) in the vault: an export of a fraudster's phone and a match of an
incoming one read it from there.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Protocol

from fengkong.events import Tokenizer
from fengkong.events.tokens import is_token
from fengkong.sharing.identifiers import canonical
from fengkong.sharing.keys import ConsortiumKeys


class VaultStore(Protocol):
    """Durable ``(token, consortium key id, hash)`` rows (``storage.sharing_sqlite``)."""

    def remember(self, rows: Sequence[tuple[str, str, str]]) -> None: ...

    def hashes(self, tokens: Iterable[str]) -> dict[str, dict[str, str]]: ...


class Vault:
    """The vault with a bounded in-memory cache of recent tokens."""

    def __init__(self, store: VaultStore, cache_size: int = 200_000) -> None:
        self.store = store
        self._cache: OrderedDict[str, dict[str, str]] = OrderedDict()
        self._size = cache_size

    def remember(self, token: str, digests: dict[str, str]) -> None:
        known = self._cache.get(token)
        if known is not None and all(known.get(k) == v for k, v in digests.items()):
            self._cache.move_to_end(token)
            return
        self.store.remember([(token, k, v) for k, v in digests.items()])
        self._put(token, {**(known or {}), **digests})

    def lookup(self, token: str) -> dict[str, str]:
        """The consortium hashes of ``token`` by key id (empty when never seen)."""
        found = self._cache.get(token)
        if found is not None:
            self._cache.move_to_end(token)
            return found
        found = self.store.hashes([token]).get(token, {})
        if found:
            self._put(token, found)
        return found

    def _put(self, token: str, digests: dict[str, str]) -> None:
        self._cache[token] = digests
        self._cache.move_to_end(token)
        while len(self._cache) > self._size:
            self._cache.popitem(last=False)


class SharingTokenizer(Tokenizer):
    """The edge tokenizer that also records each token's consortium hashes."""

    def __init__(self, secret: bytes, keys: ConsortiumKeys, vault: Vault) -> None:
        super().__init__(secret)
        self._keys = keys
        self.vault = vault

    def token(self, kind: str, value: str) -> str:
        token = super().token(kind, value)
        if not is_token(value):
            clean = canonical(kind, value)
            if clean.strip("+"):
                self.vault.remember(token, self._keys.digests(kind, clean))
        return token
