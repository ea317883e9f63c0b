"""Account pages: sign in, register, sign out (tokens live in HttpOnly cookies)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response

from agora_chassis.service_client import TargetUnavailable
from agora_chassis.state import service_state
from agora_storefront.api.deps import BASKET_COOKIE, Csrf, CurrentVisitor, Visitor, storefront
from agora_storefront.api.pages import redirect, render
from agora_storefront.services.backends import Refused, SignInRequired
from agora_storefront.services.baskets import Baskets

router = APIRouter(include_in_schema=False)

Next = Annotated[str, Query(alias="next", max_length=500)]
FormNext = Annotated[str, Form(alias="next", max_length=500)]


def safe_next(target: str) -> str:
    """Where to go after signing in: a path on this site only (never ``//evil`` or a URL)."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


async def _signed_in(request: Request, visitor: Visitor, email: str, password: str) -> None:
    """Sign in and move a guest basket into the account's basket.

    When basket is down the shopper is signed in all the same: the guest basket id stays in its
    cookie, and the next sign-in merges it.

    Raises:
        SignInRequired: Wrong e-mail or password.
    """
    state = storefront(request)
    pair = await state.accounts.sign_in(email, password, visitor.caller)
    principal = await service_state(request).verifier.verify(pair.access_token)
    guest = visitor.guest_basket
    visitor.signed_in_as(pair, principal)
    baskets = Baskets(state.backends.basket)
    try:
        view = await (
            baskets.merge(guest, visitor.caller) if guest else baskets.show(visitor.caller)
        )
    except TargetUnavailable:
        return
    visitor.basket_holds(view.lines)
    if guest:
        visitor.guest_basket = None
        visitor.cookies[BASKET_COOKIE] = None


@router.get("/login")
async def login_page(request: Request, next_url: Next = "/") -> Response:
    """The sign-in form."""
    context = {"title": "Sign in — Agora", "next": safe_next(next_url), "errors": {}, "email": ""}
    return await render(request, "account/login.html", context)


@router.post("/login", dependencies=[Csrf])
async def login(
    request: Request,
    visitor: CurrentVisitor,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    next_url: FormNext = "/",
) -> Response:
    """Sign in; on success go where the shopper was heading."""
    try:
        await _signed_in(request, visitor, email.strip(), password)
    except SignInRequired:
        errors = {"form": "The e-mail address or password is wrong."}
    except Refused as refused:
        errors = {"form": refused.detail}
    else:
        return redirect(request, safe_next(next_url))
    context = {
        "title": "Sign in — Agora",
        "next": safe_next(next_url),
        "errors": errors,
        "email": email,
    }
    return await render(request, "account/login.html", context, status=400)


@router.get("/register")
async def register_page(request: Request, next_url: Next = "/") -> Response:
    """The registration form."""
    context = {"title": "Create an account — Agora", "next": safe_next(next_url), "errors": {}}
    return await render(request, "account/register.html", {**context, "form": {}})


@router.post("/register", dependencies=[Csrf])
async def register(
    request: Request,
    visitor: CurrentVisitor,
    email: Annotated[str, Form(max_length=320)] = "",
    full_name: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    next_url: FormNext = "/",
) -> Response:
    """Create an account, then sign in with it."""
    accounts = storefront(request).accounts
    try:
        await accounts.register(email.strip(), password, full_name.strip(), visitor.caller)
        await _signed_in(request, visitor, email.strip(), password)
    except Refused as refused:
        errors = refused.field_errors() or {"form": refused.detail}
        form = {"email": email, "full_name": full_name}
        context = {"title": "Create an account — Agora", "next": safe_next(next_url)}
        return await render(
            request, "account/register.html", {**context, "errors": errors, "form": form}, 400
        )
    return redirect(request, safe_next(next_url))


@router.post("/logout", dependencies=[Csrf])
async def logout(request: Request, visitor: CurrentVisitor) -> Response:
    """Sign out: the session is revoked at identity and the cookies cleared."""
    if visitor.refresh_token:
        await storefront(request).accounts.sign_out(visitor.refresh_token, visitor.caller)
    visitor.signed_out()
    visitor.basket_holds(0)
    return redirect(request, "/")
