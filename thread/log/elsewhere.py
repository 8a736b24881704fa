"""A verification pass in another Python process: what it is sent, what it answers.

``thread verify`` on a large ledger checks the chains, and derives the subject
maps, in processes of their own beside the log pass, so that both cores work.
Each is a fresh interpreter that imports only the module serving it (not the
caller's main, as multiprocessing's spawn would), reads messages on its
standard input until it closes, and answers one result on its standard output,
each in msgpack (plain values: what crosses is data, never code).
"""

from __future__ import annotations

import io
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import suppress
from typing import Any

import msgpack

from thread.errors import LedgerError


class ElsewhereError(LedgerError):
    """The process died or could not be started: its pass is to be run here instead."""


class Elsewhere:
    """The parent's side: a process running ``function`` of ``module`` (see :func:`received`
    and :func:`answer` for its side)."""

    def __init__(self, module: str, function: str, what: str) -> None:
        """``what`` names the pass in messages ("the chains", "the subject maps")."""
        self._what = what
        self._errors = tempfile.TemporaryFile()  # noqa: SIM115 - closed by result() or stop()
        self._process = subprocess.Popen(
            [sys.executable, "-c", f"from {module} import {function}; {function}()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._errors)

    def send(self, message: object) -> None:
        """One message, in order; :class:`ElsewhereError` when the process has failed."""
        assert self._process.stdin is not None
        try:
            self._process.stdin.write(msgpack.packb(message, use_bin_type=True))
            self._process.stdin.flush()
        except (BrokenPipeError, ValueError):  # ended, or its stdin already closed
            self._fail()

    def done(self) -> None:
        """Nothing more will be sent."""
        assert self._process.stdin is not None
        with suppress(BrokenPipeError):
            self._process.stdin.close()

    def result(self) -> Any:
        """Its answer, once it has read every message; :class:`ElsewhereError` when it
        failed."""
        assert self._process.stdout is not None
        self.done()
        with self._process.stdout:
            out = self._process.stdout.read()
        if self._process.wait() != 0:
            self._fail()
        self._errors.close()
        return msgpack.unpackb(out, raw=False, strict_map_key=False)

    def stop(self) -> None:
        """End the process if it still runs (the pass beside it failed); let go of its files."""
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        for stream in (self._process.stdin, self._process.stdout, self._errors):
            if stream is not None:
                with suppress(BrokenPipeError):
                    stream.close()

    def _fail(self) -> None:
        self._process.wait()
        self._errors.seek(0)
        err = self._errors.read().decode(errors="replace")
        last = err.strip().splitlines()[-1:] or ["no message"]
        self.stop()
        raise ElsewhereError(f"the process verifying {self._what} failed: {last[0]}")


def received() -> Iterator[Any]:
    """The child's side: each message the parent sent, until it closed the pipe."""
    yield from msgpack.Unpacker(_Arrived(), raw=False, strict_map_key=False)


def answer(result: object) -> None:
    """The child's side: its one result."""
    sys.stdout.buffer.write(msgpack.packb(result, use_bin_type=True))
    sys.stdout.buffer.flush()


class _Arrived:
    """Standard input read as it arrives (a plain read waits until its whole size has)."""

    def __init__(self) -> None:
        stream = sys.stdin.buffer
        assert isinstance(stream, io.BufferedReader)
        self._stream = stream

    def read(self, size: int) -> bytes:
        return self._stream.read1(size)
