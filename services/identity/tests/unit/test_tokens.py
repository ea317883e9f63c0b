"""Signing keys, JWKS and token issuing."""

import datetime as dt
import uuid
from pathlib import Path

import jwt
import pytest

from agora_chassis.auth import ACCESS_TOKEN_USE, TOKEN_USE_CLAIM
from agora_identity.models import RefreshToken, User
from agora_identity.services.keys import KeyStore, NoSigningKeyError, generate_key
from agora_identity.services.tokens import (
    TokenIssuer,
    TokenPolicy,
    granted_scopes,
    hash_refresh_token,
)

POLICY = TokenPolicy(
    issuer="agora-identity",
    audience="agora",
    access_ttl=dt.timedelta(minutes=30),
    refresh_ttl=dt.timedelta(days=7),
)


def _user(roles: list[str]) -> User:
    return User(id=uuid.uuid4(), email="a@example.com", full_name="A", roles=roles)


def test_keystore_load_empty_dir_in_production_raises(tmp_path: Path) -> None:
    with pytest.raises(NoSigningKeyError):
        KeyStore.load(tmp_path / "keys", create_if_empty=False)


def test_keystore_load_empty_dir_in_development_creates_private_key_file(tmp_path: Path) -> None:
    store = KeyStore.load(tmp_path / "keys", create_if_empty=True)
    files = list((tmp_path / "keys").glob("*.pem"))
    assert [path.stem for path in files] == [store.current.kid]
    assert files[0].stat().st_mode & 0o777 == 0o600


def test_keystore_after_rotation_signs_with_newest_and_publishes_all(tmp_path: Path) -> None:
    old = generate_key(tmp_path)
    new = generate_key(tmp_path)
    store = KeyStore.load(tmp_path, create_if_empty=False)
    assert store.current.kid == max(old.kid, new.kid)
    assert {key["kid"] for key in store.jwks()["keys"]} == {old.kid, new.kid}
    assert all(key["kty"] == "OKP" and "d" not in key for key in store.jwks()["keys"])


def test_access_token_carries_roles_scopes_and_access_marker(tmp_path: Path) -> None:
    store = KeyStore.load(tmp_path, create_if_empty=True)
    user = _user(["customer"])
    token = TokenIssuer(store, POLICY).access_token(user, ["basket"])
    public = jwt.PyJWK(store.jwks()["keys"][0])
    claims = jwt.decode(
        token, public, algorithms=["EdDSA"], audience="agora", issuer="agora-identity"
    )
    assert claims["sub"] == str(user.id)
    assert claims["roles"] == ["customer"]
    assert claims["scope"] == "basket"
    assert claims[TOKEN_USE_CLAIM] == ACCESS_TOKEN_USE
    assert claims["exp"] - claims["iat"] == 30 * 60
    assert jwt.get_unverified_header(token)["kid"] == store.current.kid


def test_refresh_token_stores_only_its_hash(tmp_path: Path) -> None:
    issuer = TokenIssuer(KeyStore.load(tmp_path, create_if_empty=True), POLICY)
    family = uuid.uuid4()
    token, record = issuer.refresh_token(_user(["customer"]), family, ["profile"])
    assert isinstance(record, RefreshToken)
    assert record.token_hash == hash_refresh_token(token)
    assert token not in record.token_hash
    assert record.family_id == family


def test_granted_scopes_without_request_gives_all_the_roles_allow() -> None:
    assert granted_scopes(["customer"], []) == ["basket", "orders", "profile"]


def test_granted_scopes_request_beyond_role_is_narrowed() -> None:
    assert granted_scopes(["customer"], ["admin", "basket"]) == ["basket"]
