"""Root key, parameter bounds and items keys of encrypted accounts (sync-protocol.md 12.1)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snapask_desktop.sync.crypto import (
    CryptoError,
    ItemsKey,
    ItemsKeys,
    KdfParams,
    RecordContext,
    RootKey,
    Tampered,
    UnknownKey,
    UnsupportedVersion,
    WeakParameters,
    WrongPassphrase,
    check_new_passphrase,
    derive_root_key,
    new_params,
    open_record,
    rewrap_items_keys,
    seal_record,
    sealed_key_id,
    unwrap_items_key,
    wrap_items_key,
)
from snapask_desktop.sync.crypto.kdf import (
    DEFAULT_MEMLIMIT,
    DEFAULT_OPSLIMIT,
    MAX_MEMLIMIT,
    MAX_OPSLIMIT,
    MIB,
    MIN_MEMLIMIT,
    MIN_OPSLIMIT,
)
from snapask_desktop.sync.crypto.keys import WRAPPED_BYTES
from tests.sync.crypto_support import PASSPHRASE, SALT_A, SALT_B, flip, items_key, min_params, root

FLIPS = settings(max_examples=300, deadline=None)


def test_the_root_key_depends_on_passphrase_and_salt_only_through_argon2id() -> None:
    assert root().key == derive_root_key(PASSPHRASE, min_params()).key
    assert root().key != root(salt=SALT_B).key
    assert root().key != root(passphrase=PASSPHRASE + " ").key
    assert len(root().key) == 32


def test_the_same_passphrase_typed_in_another_unicode_form_gives_the_same_key() -> None:
    composed = "pâté de foie gras, naïve café"
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    assert root(composed).key == root(decomposed).key


def test_this_clients_parameters_are_the_documented_ones_and_pass_its_own_bounds() -> None:
    params = new_params()
    assert (
        (params.opslimit, params.memlimit)
        == (DEFAULT_OPSLIMIT, DEFAULT_MEMLIMIT)
        == (
            3,
            256 * MIB,
        )
    )
    params.check()
    assert new_params().salt != params.salt  # a fresh random salt each time


@pytest.mark.parametrize(
    ("opslimit", "memlimit", "salt"),
    [
        (MIN_OPSLIMIT - 1, MIN_MEMLIMIT, SALT_A),  # too few passes
        (MIN_OPSLIMIT, MIN_MEMLIMIT - MIB, SALT_A),  # too little memory
        (1, 8 * 1024, SALT_A),  # libsodium's own minimums: far below ours
        (MAX_OPSLIMIT + 1, MIN_MEMLIMIT, SALT_A),  # a server making unlock hang
        (MIN_OPSLIMIT, MAX_MEMLIMIT + MIB, SALT_A),
        (MIN_OPSLIMIT, MIN_MEMLIMIT + 1, SALT_A),  # not whole MiB
        (True, MIN_MEMLIMIT, SALT_A),  # a JSON true is not a number of passes
        (MIN_OPSLIMIT, MIN_MEMLIMIT, SALT_A[:8]),  # short salt
    ],
)
def test_parameters_out_of_bounds_are_refused_before_deriving(
    opslimit: int, memlimit: int, salt: bytes
) -> None:
    params = KdfParams(salt=salt, opslimit=opslimit, memlimit=memlimit)
    with pytest.raises(WeakParameters, match=r"refused|salt"):
        derive_root_key(PASSPHRASE, params)


def test_an_empty_or_short_new_passphrase_is_refused() -> None:
    with pytest.raises(WeakParameters, match="empty"):
        derive_root_key("", min_params())
    with pytest.raises(WeakParameters, match="10 characters"):
        check_new_passphrase("short")
    check_new_passphrase("ten chars!")


def test_keys_never_show_in_repr() -> None:
    key = items_key()
    for shown in (repr(key), repr(root()), repr(ItemsKeys([key]))):
        assert key.key.hex() not in shown and repr(key.key) not in shown
        assert root().key.hex() not in shown and repr(root().key) not in shown


def test_a_wrapped_items_key_opens_only_under_the_same_passphrase() -> None:
    wrapped = wrap_items_key(root(), items_key())
    assert len(wrapped) == WRAPPED_BYTES
    assert unwrap_items_key(root(), wrapped) == items_key()
    with pytest.raises(WrongPassphrase, match="passphrase does not open"):
        unwrap_items_key(root("wrong horse battery staple"), wrapped)
    with pytest.raises(WrongPassphrase):  # salt replaced in the key record
        unwrap_items_key(root(salt=SALT_B), wrapped)


def test_the_kdf_parameters_are_bound_to_the_wrapped_key() -> None:
    """Even with the right key bytes, other parameters in the key record do not open it."""
    wrapped = wrap_items_key(root(), items_key())
    other = KdfParams(salt=SALT_A, opslimit=MIN_OPSLIMIT + 1, memlimit=MIN_MEMLIMIT)
    with pytest.raises(WrongPassphrase):
        unwrap_items_key(RootKey(key=root().key, params=other), wrapped)


def test_two_wraps_of_one_key_differ_and_both_open() -> None:
    first, second = (wrap_items_key(root(), items_key()) for _ in range(2))
    assert first != second  # fresh nonces
    assert unwrap_items_key(root(), first) == unwrap_items_key(root(), second)


@FLIPS
@given(st.data())
def test_any_flipped_bit_in_a_wrapped_key_is_refused(data: st.DataObject) -> None:
    wrapped = wrap_items_key(root(), items_key())
    bit = data.draw(st.integers(0, len(wrapped) * 8 - 1))
    with pytest.raises(CryptoError):
        unwrap_items_key(root(), flip(wrapped, bit))


def test_a_wrapped_key_of_an_unknown_format_or_length_is_refused() -> None:
    wrapped = wrap_items_key(root(), items_key())
    with pytest.raises(UnsupportedVersion, match="format 2"):
        unwrap_items_key(root(), b"\x02" + wrapped[1:])
    with pytest.raises(Tampered):
        unwrap_items_key(root(), wrapped[:-1])
    with pytest.raises(Tampered):
        unwrap_items_key(root(), b"")


def test_a_passphrase_change_rewraps_and_old_records_still_open() -> None:
    """Only the wrapping changes: what was sealed before opens with the unwrapped key."""
    keys = ItemsKeys([items_key()])
    ctx = RecordContext(
        "message",
        "e4b02264-de64-465f-811f-e29692d356f6",
        conversation_id="c4b241ed-5754-4db5-a971-53d2a2a9af53",
    )
    sealed = seal_record(keys.current, ctx, b'{"text": "hello"}')
    wrapped = [wrap_items_key(root(), k) for k in keys]
    new_root = root("a brand new passphrase", SALT_B)
    rewrapped = rewrap_items_keys(root(), new_root, wrapped)
    with pytest.raises(WrongPassphrase):
        unwrap_items_key(root(), rewrapped[0])
    reopened = ItemsKeys([unwrap_items_key(new_root, w) for w in rewrapped])
    assert open_record(reopened, ctx, sealed) == b'{"text": "hello"}'
    with pytest.raises(WrongPassphrase):  # the old passphrase cannot re-wrap someone's keys
        rewrap_items_keys(root("not it at all"), new_root, wrapped)


def test_rotation_seals_with_the_new_key_and_still_opens_the_old_records() -> None:
    keys = ItemsKeys([items_key()])
    ctx = RecordContext("conversation", "c4b241ed-5754-4db5-a971-53d2a2a9af53")
    old = seal_record(keys.current, ctx, b"old")
    rotated = keys.rotate()
    assert len(rotated) == 2 and rotated.current.key_id != keys.current.key_id
    new = seal_record(rotated.current, ctx, b"new")
    assert sealed_key_id(old) == keys.current.key_id  # to be re-sealed lazily
    assert sealed_key_id(new) == rotated.current.key_id
    assert open_record(rotated, ctx, old) == b"old"
    assert open_record(rotated, ctx, new) == b"new"
    with pytest.raises(UnknownKey, match="fetch the account's keys"):
        open_record(keys, ctx, new)  # a device that has not fetched the rotation yet
    retired = rotated.without(keys.current.key_id)
    with pytest.raises(UnknownKey):
        open_record(retired, ctx, old)
    with pytest.raises(ValueError, match="current"):
        rotated.without(rotated.current.key_id)


def test_an_items_key_has_the_documented_sizes() -> None:
    with pytest.raises(ValueError):
        ItemsKey(key_id=b"\x00" * 15, key=b"\x00" * 32)
    with pytest.raises(ValueError, match="at least one"):
        ItemsKeys([])
    with pytest.raises(ValueError, match="generation 0"):
        ItemsKeys([items_key(), ItemsKey.generate()])


def test_the_newest_generation_seals_and_the_server_cannot_promote_an_old_key() -> None:
    """Which key seals is decided by the authenticated generation, not by the key record's
    order or a pointer the server could move back to a key the user rotated away from."""
    rotated = ItemsKeys([items_key()]).rotate().rotate()
    wrapped = [wrap_items_key(root(), k) for k in rotated]
    assert [unwrap_items_key(root(), w).generation for w in wrapped] == [0, 1, 2]
    for order in (wrapped, wrapped[::-1]):
        unwrapped = ItemsKeys(unwrap_items_key(root(), w) for w in order)
        assert unwrapped.current == rotated.current
        assert unwrapped.current.generation == 2
    oldest = wrapped[0]
    promoted = oldest[:17] + (7).to_bytes(4, "big") + oldest[21:]  # generation 0 -> 7
    with pytest.raises(WrongPassphrase):
        unwrap_items_key(root(), promoted)
