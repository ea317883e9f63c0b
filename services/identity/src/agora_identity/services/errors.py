"""Identity's domain errors (mapped to Problem Details by the chassis)."""

from agora_chassis.errors import BadRequest, Conflict, NotFound, TooManyRequests, Unauthorized


class EmailTaken(Conflict):
    """An account with this e-mail already exists."""

    title = "E-mail already registered"


class InvalidCredentials(Unauthorized):
    """Wrong e-mail or password (deliberately not saying which); the audit entry is kept."""

    title = "Invalid credentials"
    commit_changes = True


class LoginRateLimited(TooManyRequests):
    """Too many login attempts; the audit entry is kept."""

    commit_changes = True


class InvalidRefreshToken(Unauthorized):
    """The refresh token is unknown, expired or revoked; the audit entry is kept."""

    title = "Invalid refresh token"
    commit_changes = True


class UserNotFound(NotFound):
    """No user with this id."""

    title = "User not found"


class SelfLockout(Conflict):
    """An admin tried to remove their own admin role or deactivate themselves."""

    title = "Cannot lock yourself out"


class InvalidClient(Unauthorized):
    """Unknown service client or wrong secret (RFC 6749 ``invalid_client``); audit entry kept."""

    title = "Invalid client"
    commit_changes = True


class InvalidScope(BadRequest):
    """A service asked for a scope it is not registered for (``invalid_scope``); audited."""

    title = "Invalid scope"
    commit_changes = True
