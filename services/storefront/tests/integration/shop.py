"""Drive the storefront like a browser without JavaScript: pages, forms, the CSRF field, cookies.

A :class:`Shopper` keeps its cookies (the httpx client's jar), reads the CSRF token from each
page it loads and sends it back with every form, as the pages' own forms do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import httpx

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
ADMIN_EMAIL = "admin@agora.local"
ADMIN_PASSWORD = "Admin123!"
PASSWORD = "Corr3ct-Horse-Battery"


@dataclass
class Shopper:
    """One browser session against the storefront."""

    client: httpx.AsyncClient
    csrf: str = ""
    last: httpx.Response | None = field(default=None, repr=False)

    async def get(self, path: str, **options: Any) -> httpx.Response:
        """Load a page (redirects followed) and remember its CSRF token."""
        response = await self.client.get(path, follow_redirects=True, **options)
        self._remember(response)
        return response

    async def post(
        self, path: str, data: dict[str, Any] | None = None, **options: Any
    ) -> httpx.Response:
        """Submit a form with the page's CSRF token (redirects followed, like a browser)."""
        if not self.csrf:
            await self.get("/login")
        form = {"csrf_token": self.csrf, **(data or {})}
        response = await self.client.post(path, data=form, follow_redirects=True, **options)
        self._remember(response)
        return response

    async def htmx(
        self, method: str, path: str, data: dict[str, Any] | None = None
    ) -> httpx.Response:
        """Send what HTMX sends: the ``HX-Request`` and ``X-CSRF-Token`` headers, a form body."""
        if not self.csrf:
            await self.get("/login")
        headers = {"HX-Request": "true", "X-CSRF-Token": self.csrf}
        response = await self.client.request(method, path, data=data, headers=headers)
        self._remember(response)
        return response

    async def sign_in(self, email: str, password: str) -> httpx.Response:
        """Sign in through the login form; the page after it must not be the login form again."""
        response = await self.post("/login", {"email": email, "password": password, "next": "/"})
        assert "Sign out" in response.text, f"sign-in as {email} failed: {response.status_code}"
        return response

    async def register(self, email: str, full_name: str = "Ada Lovelace") -> httpx.Response:
        """Create an account through the form (it signs in too)."""
        data = {"email": email, "full_name": full_name, "password": PASSWORD, "next": "/"}
        response = await self.post("/register", data)
        assert "Sign out" in response.text, f"registration of {email} failed: {response.text[:500]}"
        return response

    def _remember(self, response: httpx.Response) -> None:
        self.last = response
        if found := CSRF_FIELD.search(response.text):
            self.csrf = found.group(1)
