"""Templates whose cost cannot be bounded by looking at them render in a separate process.

A template with a loop, a macro, a method call, an assignment or an amplifying operator can be
written to run for ever or to build a huge string in a single C call, where no check between
Python lines can stop it. Such templates render here: in a child process whose address space is
capped (``RLIMIT_AS``: its size at start plus ``MEMORY_HEADROOM``) and which the kernel ends when
one render has used ``RENDER_CPU_LIMIT_S`` of CPU time (a profiling timer whose signal is left
to its default action, so it ends even a single C call). CPU time, not the wall clock: waiting
for a core on a busy machine is not the template's doing, and must not fail an honest render.
A render that has neither answered nor used its CPU within ``RENDER_WALL_LIMIT_S`` (a child
stopped or starved for that long) is given up too. Whatever the template does, the caller
gets an answer or a refusal within the wall limit, and the memory it can take is the headroom. A template that hits a limit twice in
ten minutes is refused at once after that, so a campaign sending it cannot keep the processes
busy for other organizations.

The parent sends (source, context, html, probe) pickled; the child answers in JSON, so nothing a
template builds is ever unpickled by the parent.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import queue
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

RENDER_CPU_LIMIT_S = 0.25
RENDER_WALL_LIMIT_S = 5.0
MEMORY_HEADROOM = 50 * 1024 * 1024
PROCESSES = 2
# Limits hit this often within the window: the template is refused without trying again.
STRIKES = 2
STRIKE_WINDOW_S = 600.0
_HEADER = struct.Struct("!I")
# (source, context, html, probe) -> the text
Renderer = Callable[[str, dict[str, Any], bool, bool], str]


class LimitExceeded(Exception):
    """The template ran out of time or memory."""


class TemplateFailed(Exception):
    """The template failed the way it would in process (a missing value, a refused call)."""


def _write(stream: IO[bytes], payload: bytes) -> None:
    stream.write(_HEADER.pack(len(payload)) + payload)
    stream.flush()


def _read(stream: IO[bytes]) -> bytes | None:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    return stream.read(size)


@dataclass
class _Child:
    process: subprocess.Popen[bytes]

    @classmethod
    def start(cls) -> _Child:
        process = subprocess.Popen(
            [sys.executable, "-m", "herald.messaging.rendering"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,  # answers are read from the descriptor, past any buffer
        )
        return cls(process)

    def ask(self, request: bytes, deadline_s: float) -> dict[str, Any]:
        """Send one render and wait for its answer; LimitExceeded once the deadline passes or
        the child dies (its CPU time used up, or a crash past its memory cap)."""
        assert self.process.stdin is not None and self.process.stdout is not None
        try:
            _write(self.process.stdin, request)
        except OSError as exc:
            raise LimitExceeded("the render process ended") from exc
        deadline = time.monotonic() + deadline_s
        header = self._receive(_HEADER.size, deadline)
        (size,) = _HEADER.unpack(header)
        reply: dict[str, Any] = json.loads(self._receive(size, deadline))
        return reply

    def _receive(self, count: int, deadline: float) -> bytes:
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        data = bytearray()
        while len(data) < count:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise LimitExceeded(f"rendering did not answer within {RENDER_WALL_LIMIT_S:g}s")
            chunk = os.read(fd, count - len(data))
            if not chunk:
                raise LimitExceeded(self._why_it_ended())
            data += chunk
        return bytes(data)

    def _why_it_ended(self) -> str:
        if self.process.wait() == -signal.SIGPROF:
            return f"rendering used more than {RENDER_CPU_LIMIT_S:g}s of CPU time"
        return "rendering needed too much memory"

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


@dataclass
class RenderProcesses:
    """A few render processes shared by every thread of this process, started when first
    needed; one that ends at a limit or misses the wall limit is replaced."""

    size: int = PROCESSES
    deadline_s: float = RENDER_WALL_LIMIT_S
    _idle: queue.Queue[_Child | None] = field(default_factory=queue.Queue)
    _strikes: dict[str, list[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        for _ in range(self.size):
            self._idle.put(None)  # a slot; its process starts on first use

    def render(
        self, source: str, context: Mapping[str, Any], *, html: bool, probe: bool = False
    ) -> str:
        key = hashlib.sha256(f"{html}:{source}".encode()).hexdigest()
        self._refuse_if_struck(key)
        request = pickle.dumps((source, dict(context), html, probe))
        child = self._idle.get()
        try:
            if child is None or child.process.poll() is not None:
                child = _Child.start()
            reply = child.ask(request, self.deadline_s)
        except LimitExceeded:
            if child is not None:
                child.stop()
            child = None
            self._strike(key)
            raise
        finally:
            self._idle.put(child)
        if reply["ok"]:
            return str(reply["text"])
        if reply.get("limit"):
            self._strike(key)
            raise LimitExceeded(reply["error"])
        raise TemplateFailed(reply["error"])

    def _strike(self, key: str) -> None:
        with self._lock:
            self._strikes.setdefault(key, []).append(time.monotonic())

    def _refuse_if_struck(self, key: str) -> None:
        with self._lock:
            recent = [
                t for t in self._strikes.get(key, []) if time.monotonic() - t < STRIKE_WINDOW_S
            ]
            if recent:
                self._strikes[key] = recent
            else:
                self._strikes.pop(key, None)
        if len(recent) >= STRIKES:
            raise LimitExceeded("this template exceeded the render limits again and again")


def _cap_memory() -> None:
    """Cap the address space at its size now plus the headroom (Linux: read from /proc)."""
    import resource

    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[0])
    size = pages * os.sysconf("SC_PAGE_SIZE") + MEMORY_HEADROOM
    resource.setrlimit(resource.RLIMIT_AS, (size, size))


def serve(render: Renderer, judge: Callable[[Exception], tuple[bool, str]]) -> None:
    """The child's loop (started as ``python -m herald.messaging.rendering``): render each
    request with ``render``; ``judge`` tells a limit from a template's own failure."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    _cap_memory()
    while (request := _read(stdin)) is not None:
        source, context, html, probe = pickle.loads(request)
        # SIGPROF has no handler here: its default action ends this process, mid C call too.
        signal.setitimer(signal.ITIMER_PROF, RENDER_CPU_LIMIT_S)
        try:
            reply = {"ok": True, "text": render(source, context, html, probe)}
        except MemoryError:
            reply = {"ok": False, "limit": True, "error": "rendering needed too much memory"}
        except RecursionError:
            reply = {"ok": False, "limit": True, "error": "the template recurses too deeply"}
        except Exception as exc:
            limit, reason = judge(exc)
            reply = {"ok": False, "limit": limit, "error": reason}
        signal.setitimer(signal.ITIMER_PROF, 0)
        _write(stdout, json.dumps(reply).encode())
