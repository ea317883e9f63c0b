"""wrk, a compiled HTTP load generator, driven by a Lua script: the benchmarks' first choice.

The Python generator (:mod:`agora_cli.bench.http_load`) runs on the CPUs the servers use and costs
about 0.1 ms of CPU a request: on two CPUs, against a hello-world that itself needs about 0.1 ms,
it saturates first, so the hello-world's rate is partly the client's and every ratio to it
flatters the slower server (ADR 0016). wrk (C, one epoll loop a thread) costs a fraction of that.
When ``wrk`` is on the ``PATH`` the timed runs use it; otherwise, or with ``--generator python``,
the Python one runs, and the report says which did.

wrk runs for a duration, not a number of requests. :data:`SCRIPT` (Lua, run by each wrk thread)
sends the given paths in turn with the given headers, method and body (``GET`` without a body
unless told otherwise), each thread starting at a different path, and prints one line,
``AGORA-WRK {json}``, with the counts and the latency percentiles in microseconds, which
:func:`parse` reads. Errors are wrk's: connect, read, write and timeout errors, and answers with
a status above 399 (304 is a success, as for the Python generator).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from agora_cli.bench.http_load import LoadResult

WRK = "wrk"
PYTHON = "python"
AUTO = "auto"
GENERATORS = (AUTO, WRK, PYTHON)
MARKER = "AGORA-WRK "
MICROSECONDS = 1e6
TIMEOUT_SECONDS = 10  # wrk's per-request timeout; a slower answer counts as an error
EXTRA_SECONDS = 30.0  # beyond the run's duration before the process is given up on
FILE_MODE = 0o600  # the headers file may hold a bearer token

# Each thread reads the paths and headers files named after "--", then the method and the body's
# file when given, builds every request once (request() is on wrk's hot path; wrk.format adds
# Content-Length for a body) and starts at its own offset into the paths.
SCRIPT = r"""
local counter = 1

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  local headers = {}
  for line in io.lines(args[2]) do
    local name, value = line:match("^([^:]+):%s*(.*)$")
    if name then headers[name] = value end
  end
  local method, body = args[3] or "GET", nil
  if args[4] then
    local file = assert(io.open(args[4], "rb"))
    body = file:read("*a")
    file:close()
  end
  requests = {}
  for path in io.lines(args[1]) do
    requests[#requests + 1] = wrk.format(method, path, headers, body)
  end
  index = (id or 1) - 1
end

function request()
  index = index % #requests + 1
  return requests[index]
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '%s{"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, '
      .. '"status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d, "max_us": %d}\n',
    "AGORA-WRK ", summary.requests, summary.duration, errors.connect, errors.read,
    errors.write, errors.status, errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


class WrkError(RuntimeError):
    """wrk failed, or printed no result."""


def wrk_path() -> str | None:
    """The ``wrk`` executable on the ``PATH``, or None."""
    return shutil.which(WRK)


def choose(asked: str, found: str | None = None) -> str:
    """The generator to run: ``wrk`` when asked for or (``auto``) when installed, else ``python``.

    Raises:
        WrkError: When ``wrk`` was asked for and is not installed.
    """
    found = found if found is not None else wrk_path()
    if asked == WRK and not found:
        raise WrkError("--generator wrk: wrk is not installed (apt-get install wrk)")
    if asked == PYTHON or not found:
        return PYTHON
    return WRK


def version(path: str | None = None) -> str:
    """wrk's version line (``wrk 4.1.0 [epoll] ...``), or ``unknown``."""
    import subprocess

    try:
        result = subprocess.run(  # noqa: S603 - fixed argv: wrk --version
            [path or wrk_path() or WRK, "--version"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    line = (result.stdout or result.stderr).splitlines()[:1]
    return line[0].split(" Copyright")[0].strip() if line else "unknown"


def threads_for(concurrency: int, cpus: int | None = None) -> int:
    """wrk threads: one per CPU this process may use, at most one per connection."""
    return max(min(cpus or os.process_cpu_count() or 1, concurrency), 1)


def argv(
    url: str,
    script: Path,
    paths_file: Path,
    headers_file: Path,
    concurrency: int,
    seconds: int,
    method: str = "GET",
    body_file: Path | None = None,
) -> list[str]:
    """The wrk command line for ``concurrency`` connections to ``url`` for ``seconds``.

    The script's arguments (after ``--``): the paths and headers files, the method, and the
    body's file when there is a body.
    """
    return [
        wrk_path() or WRK,
        *("-t", str(threads_for(concurrency)), "-c", str(concurrency)),
        *("-d", f"{seconds}s", "--timeout", f"{TIMEOUT_SECONDS}s", "-s", str(script)),
        url,
        *("--", str(paths_file), str(headers_file), method),
        *([str(body_file)] if body_file is not None else []),
    ]


def parse(output: str) -> LoadResult:
    """The :class:`LoadResult` in wrk's output (the script's ``AGORA-WRK`` line).

    Raises:
        WrkError: When the line is missing or malformed.
    """
    for line in output.splitlines():
        if line.startswith(MARKER):
            try:
                found = json.loads(line.removeprefix(MARKER))
                errors = sum(found[k] for k in ("connect", "read", "write", "status", "timeout"))
                return LoadResult(
                    requests=int(found["requests"]),
                    errors=int(errors),
                    seconds=found["duration_us"] / MICROSECONDS,
                    generator=WRK,
                    quantiles_ms=(found["p50_us"] / 1000.0, found["p99_us"] / 1000.0),
                )
            except (ValueError, KeyError, TypeError) as error:
                raise WrkError(f"unreadable wrk result {line!r}: {error}") from error
    raise WrkError("wrk printed no result:\n" + output[-2000:])


def _write(directory: Path, name: str, lines: Sequence[str]) -> Path:
    return _write_bytes(directory / name, "".join(f"{line}\n" for line in lines).encode())


def _write_bytes(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    path.chmod(FILE_MODE)
    return path


async def run(
    base_url: str,
    paths: Sequence[str],
    concurrency: int,
    seconds: int,
    headers: Mapping[str, str] | None = None,
    method: str = "GET",
    body: bytes = b"",
) -> LoadResult:
    """Request ``paths`` in turn on ``base_url`` with ``concurrency`` connections for ``seconds``.

    Every request is ``method`` with ``body`` (none when empty), and also sends ``Accept-Encoding:
    gzip`` (as the Python generator and browsers do) and ``headers``. A base URL's path prefixes
    every path.

    Raises:
        WrkError: When wrk fails or prints no result.
    """
    parts = urlsplit(base_url)
    prefix = parts.path.rstrip("/")
    origin = f"{parts.scheme}://{parts.netloc}/"
    sent = {"Accept-Encoding": "gzip", **(headers or {})}
    with tempfile.TemporaryDirectory(prefix="agora-bench-wrk-") as scratch:
        directory = Path(scratch)
        script = _write(directory, "paths.lua", [SCRIPT])
        paths_file = _write(directory, "paths.txt", [prefix + path for path in paths])
        headers_file = _write(directory, "headers.txt", [f"{k}: {v}" for k, v in sent.items()])
        body_file = _write_bytes(directory / "body", body) if body else None
        command = argv(
            origin, script, paths_file, headers_file, concurrency, seconds, method, body_file
        )
        process = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        try:
            async with asyncio.timeout(seconds + EXTRA_SECONDS):
                output, _ = await process.communicate()
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    text = output.decode("utf-8", "replace")
    if process.returncode != 0:
        raise WrkError(f"wrk exited with {process.returncode}:\n{text[-2000:]}")
    return parse(text)


def timed_run_label(generator: str, duration: int, requests: int) -> str:
    """How a timed run is bounded, for a title: wrk runs for a time, Python for a count."""
    if generator == WRK:
        return f"{duration}s a timed run (wrk)"
    return f"{requests} requests a timed run (Python generator)"
