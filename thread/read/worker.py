"""The read-model worker: projects pages of the log sent by a catch-up over stdin.

Run by :mod:`thread.read.pipeline` as ``python -m thread.read.worker``; each
request and reply is an 8-byte big-endian length and a pickle. It exits when
its input closes.
"""

from __future__ import annotations

import pickle
import sys

from thread.read.pipeline import project_page


def main() -> int:
    """Answer requests until the input closes."""
    requests, replies = sys.stdin.buffer, sys.stdout.buffer
    while True:
        header = requests.read(8)
        if len(header) < 8:
            return 0
        # Only the parent process writes to this pipe, with what it read from its ledger.
        names, at, raw = pickle.loads(requests.read(int.from_bytes(header, "big")))  # noqa: S301
        reply = pickle.dumps(project_page(names, at, raw), protocol=pickle.HIGHEST_PROTOCOL)
        replies.write(len(reply).to_bytes(8, "big") + reply)
        replies.flush()


if __name__ == "__main__":
    raise SystemExit(main())
