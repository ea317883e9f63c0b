"""The Starlette and FastStream internals the chassis builds on, pinned down.

``SmallAnswerGZipMiddleware`` builds Starlette's ``GZipResponder`` itself and hands it messages;
``HttpHardeningMiddleware`` wraps its own inner app in ``CORSMiddleware`` and calls it.
None of that is public API: Starlette changed the responder's constructor in 1.4 and 1.5. The
chassis caps Starlette below the next minor release; when a bump breaks these tests, adapt the
subclasses (the behavioural tests are in ``test_gzip.py`` and ``test_middleware.py``).

``supervise_consumers`` paces FastStream's NATS pull loop by wrapping the ``fetch`` of the
subscriber's ``subscription``: it relies on the loop calling ``self.subscription.fetch`` on every
turn and on pull subscribers keeping ``pull_sub``. The chassis caps FastStream below 0.8; the
behavioural test is ``messaging/test_supervision_consumers.py``.
"""

from __future__ import annotations

import inspect

from faststream.nats.subscriber.usecases.stream_pull_subscriber import PullStreamSubscriber
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware, GZipResponder

from agora_chassis.middleware import (
    GZIP_LEVEL,
    GZIP_MINIMUM_BYTES,
    SmallAnswerGZipMiddleware,
)

RESPONDER_PARAMETERS = [
    "self",
    "app",
    "minimum_size",
    "compresslevel",
    "thread_minimum_size",
    "exclude_content_types",
]
GZIP_ATTRIBUTES = ("minimum_size", "compresslevel", "thread_minimum_size", "exclude_content_types")


async def _app(scope: object, receive: object, send: object) -> None:
    """An ASGI app that is never called: the constructors only keep it."""


def test_gzip_responder_constructor_takes_what_the_chassis_passes() -> None:
    assert list(inspect.signature(GZipResponder.__init__).parameters) == RESPONDER_PARAMETERS


def test_gzip_responder_sends_through_a_replaceable_send_and_a_coroutine() -> None:
    responder = GZipResponder(_app, GZIP_MINIMUM_BYTES)

    assert hasattr(responder, "send")
    assert inspect.iscoroutinefunction(responder.send_with_compression)
    assert list(inspect.signature(responder.send_with_compression).parameters) == ["message"]


def test_gzip_middleware_keeps_the_settings_the_subclass_reads() -> None:
    middleware = SmallAnswerGZipMiddleware(
        _app, minimum_size=GZIP_MINIMUM_BYTES, compresslevel=GZIP_LEVEL
    )

    assert all(hasattr(middleware, name) for name in GZIP_ATTRIBUTES)
    assert middleware.app is _app
    assert inspect.iscoroutinefunction(GZipMiddleware.__call__)


def test_cors_middleware_is_an_asgi_callable_keeping_the_app() -> None:
    middleware = CORSMiddleware(_app, allow_origins=["https://shop.example"])

    assert middleware.app is _app
    assert inspect.iscoroutinefunction(CORSMiddleware.__call__)
    parameters = list(inspect.signature(CORSMiddleware.__call__).parameters)
    assert parameters == ["self", "scope", "receive", "send"]


def test_faststream_pull_loop_fetches_through_the_subscription_on_every_turn() -> None:
    loop = inspect.getsource(PullStreamSubscriber._consume_pull)

    assert "while self.running" in loop
    assert "await self.subscription.fetch(" in loop


def test_faststream_pull_subscriber_keeps_pull_sub_and_subscription() -> None:
    constructor = inspect.getsource(PullStreamSubscriber.__init__)
    subscribe = inspect.getsource(PullStreamSubscriber._create_subscription)

    assert "self.pull_sub = pull_sub" in constructor
    assert "self.subscription = await self.jetstream.pull_subscribe(" in subscribe
