"""Registration and admin-update validation rules."""

import pytest
from pydantic import ValidationError

from agora_identity.schemas.user import UserCreate, UserUpdate


def _create(**overrides: str) -> UserCreate:
    data = {"email": "Ada@Example.COM ", "password": "Correct-Horse-9", "full_name": "Ada"}
    return UserCreate.model_validate(data | overrides)


def test_user_create_mixed_case_email_is_lower_cased() -> None:
    assert _create().email == "ada@example.com"


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("short1A", "at least 8"),
        ("alllowercase1", "an upper-case letter"),
        ("ALLUPPERCASE1", "a lower-case letter"),
        ("NoDigitsHere", "a digit"),
        ("x" * 129 + "A1", "at most 128"),
    ],
)
def test_user_create_weak_password_names_the_rule(password: str, rule: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        _create(password=password)
    assert rule in str(excinfo.value)


def test_user_create_password_containing_email_is_refused() -> None:
    with pytest.raises(ValidationError, match="must not contain the e-mail"):
        _create(email="winston@example.com", password="Winston-1984")


def test_user_create_unknown_field_is_refused() -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        UserCreate.model_validate(
            {"email": "a@example.com", "password": "Correct-Horse-9", "full_name": "A", "roles": []}
        )


def test_user_create_invalid_email_is_refused() -> None:
    with pytest.raises(ValidationError, match="email"):
        _create(email="not-an-address")


def test_user_update_unknown_role_is_refused() -> None:
    with pytest.raises(ValidationError, match="roles"):
        UserUpdate.model_validate({"roles": ["superuser"]})


def test_user_update_empty_roles_is_refused() -> None:
    with pytest.raises(ValidationError, match="at least 1"):
        UserUpdate.model_validate({"roles": []})


@pytest.mark.parametrize("name", ["A\x00B", "Ada\nLovelace", "\x1b[31mred", "   "])
def test_user_create_name_with_control_characters_or_blank_is_refused(name: str) -> None:
    with pytest.raises(ValidationError, match="full_name"):
        _create(full_name=name)


def test_user_create_name_is_trimmed() -> None:
    assert _create(full_name="  Ada Lovelace ").full_name == "Ada Lovelace"
