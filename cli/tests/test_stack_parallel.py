"""The parallel start: needs before dependents, independents together, failures and Ctrl-C roll
back, and the stack's own dependency graph. Components are fakes; nothing is timed."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from agora_cli.config import StackConfig
from agora_cli.infra.process import STARTS_CANCELLED
from agora_cli.stack import Component, StartError, build_components, component_needs
from agora_cli.stack import start_components as start

WAIT_SECONDS = 10.0
"""How long a fake waits for another thread before the test fails (never reached when it works)."""


@dataclass
class Fake:
    """A component whose start runs ``work`` and records the moments in a shared journal."""

    name: str
    journal: list[str]
    work: Callable[[], object] = lambda: None
    on_ready: Callable[[], object] = lambda: None
    port: int = 0
    running: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def pid(self) -> int | None:
        return None

    def is_running(self) -> bool:
        return self.running

    def healthy(self) -> bool:
        return self.running

    def start(self) -> None:
        self._note(f"start {self.name}")
        self.work()
        self.running = True
        self._note(f"ready {self.name}")
        self.on_ready()

    def stop(self) -> None:
        self._note(f"stop {self.name}")
        self.running = False

    def _note(self, entry: str) -> None:
        with self.lock:
            self.journal.append(entry)


def needs_from(graph: Mapping[str, Sequence[str]]) -> Callable[[Component], Sequence[str]]:
    return lambda component: graph.get(component.name, ())


def wait_for_cancel() -> None:
    """What a readiness wait does: give up once the start is called off."""
    if not STARTS_CANCELLED.wait(WAIT_SECONDS):
        raise AssertionError("the start was never called off")
    raise RuntimeError("start cancelled")


@pytest.fixture(autouse=True)
def _restore_sigint() -> Iterator[None]:
    handler = signal.getsignal(signal.SIGINT)
    yield
    signal.signal(signal.SIGINT, handler)


def test_a_component_starts_only_once_all_it_needs_is_ready() -> None:
    journal: list[str] = []
    components = [Fake(n, journal) for n in ("db", "cache", "broker", "svc", "api")]
    graph = {"svc": ["db", "cache", "broker"], "api": ["svc"]}

    started = start(components, needs=needs_from(graph))

    for dependent, dependencies in graph.items():
        for dependency in dependencies:
            assert journal.index(f"ready {dependency}") < journal.index(
                f"start {dependent}"
            ), f"{dependent} started before {dependency} was ready: {journal}"
    assert {c.name for c in started} == {c.name for c in components}


def test_independent_components_start_at_the_same_time() -> None:
    # Each start waits until the other has begun: one after the other, the barrier breaks.
    both_begun = threading.Barrier(2, timeout=WAIT_SECONDS)
    journal: list[str] = []
    components = [Fake(n, journal, work=both_begun.wait) for n in ("postgres", "redis")]

    start(components, needs=needs_from({}))

    assert all(c.running for c in components), f"not both started: {journal}"


def fail() -> None:
    raise RuntimeError("port 5432 refused; log tail: FATAL boom")


def test_a_failure_calls_off_the_others_names_itself_and_stops_what_started() -> None:
    journal: list[str] = []

    ready = Fake("redis", journal)
    slow = Fake("identity", journal, work=wait_for_cancel)
    broken = Fake("postgres", journal, work=fail)
    graph = {"postgres": ["redis"], "identity": ["redis"]}

    with pytest.raises(StartError) as failure:
        start([ready, slow, broken], needs=needs_from(graph))

    assert str(failure.value) == "postgres failed to start: port 5432 refused; log tail: FATAL boom"
    assert not ready.running
    assert not slow.running
    assert not broken.running
    assert journal[-1] == "stop redis", f"redis was not stopped last: {journal}"
    assert "stop identity" not in journal, "a cancelled start has nothing left to stop"


def test_a_called_off_start_leaves_later_starts_free_to_wait() -> None:
    journal: list[str] = []
    with pytest.raises(StartError):
        start([Fake("a", journal, work=wait_for_cancel), Fake("b", journal, work=fail)])
    assert not STARTS_CANCELLED.is_set(), "the next readiness wait would give up at once"


def test_ctrl_c_during_a_parallel_start_stops_everything_started() -> None:
    journal: list[str] = []

    def interrupt_then_wait() -> None:
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C reaches the main thread, waiting on starts
        wait_for_cancel()

    signal.signal(signal.SIGINT, signal.default_int_handler)
    first = Fake("nats", journal)
    second = Fake("catalog", journal, work=interrupt_then_wait)

    with pytest.raises(KeyboardInterrupt):
        start([first, second], needs=needs_from({"catalog": ["nats"]}))

    assert not first.running
    assert not second.running
    assert journal == ["start nats", "ready nats", "start catalog", "stop nats"]


def test_a_rollback_stops_dependents_first_whatever_order_they_became_ready_in() -> None:
    journal: list[str] = []
    cache_ready = threading.Event()

    def after_cache() -> None:
        assert cache_ready.wait(WAIT_SECONDS), "cache never became ready"

    db = Fake("db", journal, work=after_cache)  # listed first, ready last
    cache = Fake("cache", journal, on_ready=cache_ready.set)
    svc = Fake("svc", journal, work=fail)

    with pytest.raises(StartError, match="svc failed to start: port 5432 refused"):
        start([db, cache, svc], needs=needs_from({"svc": ["db", "cache"]}))

    assert journal.index("ready cache") < journal.index("ready db"), journal
    assert [entry for entry in journal if entry.startswith("stop")] == ["stop cache", "stop db"]


def test_a_need_cycle_is_refused_by_name_and_nothing_starts() -> None:
    journal: list[str] = []
    components = [Fake("a", journal), Fake("b", journal)]
    with pytest.raises(StartError, match="cannot order the start of: a, b"):
        start(components, needs=needs_from({"a": ["b"], "b": ["a"]}))
    assert journal == []


def test_the_stack_graph_services_after_infrastructure_and_identity(tmp_path: Path) -> None:
    needs = {c.name: set(component_needs(c)) for c in build_components(StackConfig(tmp_path))}
    infra = {"postgres", "redis", "nats", "forkserver"}
    assert needs["identity"] == infra
    # They fetch identity's JWKS at start-up; started earlier they refuse tokens for 10 s.
    assert needs["catalog"] == {*infra, "identity"}
    assert needs["notification"] == {*infra, "identity"}
    assert needs["gateway"] == {"gateway-errors"}
    for independent in ("postgres", "redis", "nats", "mail", "gateway-errors", "forkserver"):
        assert needs[independent] == set(), f"{independent} should start at once"
