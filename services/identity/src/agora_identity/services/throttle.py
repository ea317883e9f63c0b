"""Login and registration throttling.

Login attempts are counted three ways, so guessing is slowed without handing an attacker a way to
lock a known user out:

* per client address (every account): a flood from one address;
* per account *and* address: guessing one account from one address; reset when that address logs
  in, so the owner's own typos do not pile up. An attacker exhausting it on an account does not
  touch the owner's budget from any other address;
* per account (every address): distributed guessing. When it is exhausted the account is "under
  attack": it is not locked, but each address then gets only the much smaller
  ``login_under_attack`` budget on it (a few attempts an hour), so a botnet's guessing rate drops
  to that times its addresses while the owner, from an address that has not been guessing, still
  gets in.

Registration has its own budget per client address (each one costs an Argon2 hash and a mail).
Counts live in the chassis :class:`RateLimiter` (Redis, or process memory while Redis is down).
"""

from __future__ import annotations

from dataclasses import dataclass

from agora_chassis.ratelimit import RateLimiter

LOGIN_ADDRESS = "login-ip"
LOGIN_ACCOUNT_ADDRESS = "login-account-ip"
LOGIN_ACCOUNT = "login-account"
LOGIN_UNDER_ATTACK = "login-under-attack"
REGISTRATION_ADDRESS = "register-ip"


@dataclass(frozen=True)
class AuthLimits:
    """The budgets (``limits`` syntax, e.g. ``5/minute``); see the module docstring.

    Attributes:
        login_per_address: Login attempts per client address.
        login_per_account_address: Login attempts per account and client address.
        login_per_account: Login attempts per account before it counts as under attack.
        login_under_attack: Attempts per account and address while the account is under attack.
        registration_per_address: Registrations per client address.
    """

    login_per_address: str
    login_per_account_address: str
    login_per_account: str
    login_under_attack: str
    registration_per_address: str


@dataclass
class Throttle:
    """Counts login and registration attempts; raises ``TooManyRequests`` (429) when over."""

    limiter: RateLimiter
    limits: AuthLimits

    async def login_attempt(self, email: str, address: str) -> None:
        """Count one login attempt for ``email`` from ``address``.

        Args:
            email: The normalised account e-mail.
            address: The client address.

        Raises:
            TooManyRequests: A budget is exhausted.
        """
        limits = self.limits
        await self.limiter.hit(limits.login_per_address, LOGIN_ADDRESS, address)
        await self.limiter.hit(
            limits.login_per_account_address, LOGIN_ACCOUNT_ADDRESS, email, address
        )
        if await self.limiter.test(limits.login_per_account, LOGIN_ACCOUNT, email):
            await self.limiter.hit(limits.login_per_account, LOGIN_ACCOUNT, email)
        else:
            await self.limiter.hit(limits.login_under_attack, LOGIN_UNDER_ATTACK, email, address)

    async def login_succeeded(self, email: str, address: str) -> None:
        """Forget this address's attempts on ``email`` (the account-wide count stays).

        Args:
            email: The normalised account e-mail.
            address: The client address.
        """
        limits = self.limits
        await self.limiter.reset(
            limits.login_per_account_address, LOGIN_ACCOUNT_ADDRESS, email, address
        )
        await self.limiter.reset(limits.login_under_attack, LOGIN_UNDER_ATTACK, email, address)

    async def registration_attempt(self, address: str) -> None:
        """Count one registration from ``address``.

        Args:
            address: The client address.

        Raises:
            TooManyRequests: The address's registration budget is exhausted.
        """
        await self.limiter.hit(self.limits.registration_per_address, REGISTRATION_ADDRESS, address)
