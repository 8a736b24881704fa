"""c2sp.org/tlog-policy: parsing the specification's own example shape, the rules a file
must follow, and the quorum a checkpoint's cosignatures must make."""

from __future__ import annotations

import pytest

from thread.log.checkpoint import generate_signer, sign_note
from thread.log.cosignature import cosign, generate_cosigner
from thread.log.trust_policy import PolicyFileError, TrustPolicy

LOG_KEY, LOG_VKEY = generate_signer("example.com/site-a")
BODY = "example.com/site-a\n42\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
NOTE = sign_note(BODY, LOG_KEY)
KEYS = {name: generate_cosigner(f"w.example/{name}") for name in
        ("X1", "X2", "X3", "Y1", "Y2", "Y3")}


def _policy() -> TrustPolicy:
    """The specification's example: two of the X witnesses and any of the Y witnesses."""
    text = "\n".join([
        "# the specification's example, with real keys", f"log {LOG_VKEY}", "",
        *(f"witness {name} {KEYS[name][1]}" for name in ("X1", "X2", "X3")),
        "group X-witnesses 2 X1 X2 X3", "",
        *(f"witness\t{name}\t{KEYS[name][1]}  https://w.example/{name}"
          for name in ("Y1", "Y2", "Y3")),
        "  group Y-witnesses any Y1 Y2 Y3",
        "group X-and-Y all X-witnesses Y-witnesses", "quorum X-and-Y", ""])
    return TrustPolicy.parse(text.encode())


def _cosigned(*names: str) -> str:
    return NOTE + "".join(cosign(BODY, KEYS[name][0], 1_700_000_000) for name in names)


def test_the_quorum_is_two_xs_and_one_y() -> None:
    """X1+X2+Y3 make the quorum; X1+Y1 (one X) and X1+X2+X3 (no Y) do not."""
    policy = _policy()
    good = policy.verdict(_cosigned("X1", "X2", "Y3"))
    assert good.ok and good.log == "example.com/site-a"
    assert good.witnesses == ("X1", "X2", "Y3")
    assert not policy.verdict(_cosigned("X1", "Y1")).ok
    refused = policy.verdict(_cosigned("X1", "X2", "X3"))
    assert not refused.ok and "quorum 'X-and-Y'" in refused.reason


def test_a_checkpoint_of_an_unlisted_log_fails() -> None:
    """Another log's signature: the verdict says no listed log signed it."""
    other_key, _ = generate_signer("example.com/site-a")
    note = sign_note(BODY, other_key) + cosign(BODY, KEYS["X1"][0], 1)
    verdict = _policy().verdict(note)
    assert not verdict.ok and "no listed log signed it" in verdict.reason


def test_quorum_none_needs_no_cosignature() -> None:
    """``quorum none`` accepts the log's own signature alone."""
    assert TrustPolicy.parse(f"log {LOG_VKEY}\nquorum none\n".encode()).verdict(NOTE).ok


@pytest.mark.parametrize(("text", "problem"), [
    ("log {log}\n", "no quorum line"),
    ("quorum W\n", "not defined above"),
    ("witness W {x1}\nwitness W {x2}\nquorum W\n", "already defined"),
    ("witness W {x1}\nwitness V {x1}\nquorum W\n", "a key already listed"),
    ("witness W {x1}\ngroup G 2 W\nquorum G\n", "a threshold of 2 with 1"),
    ("witness W {x1}\ngroup G 01 W\nquorum G\n", "decimal number"),
    ("witness W {x1}\ngroup G any W W\nquorum G\n", "listed twice"),
    ("witness W {x1}\ngroup G any V\nquorum G\n", "is not a witness"),
    ("witness W {x1}\nquorum W\nquorum W\n", "a second quorum"),
    ("witness none {x1}\nquorum none\n", "reserved"),
    ("witness W {log}\nquorum W\n", "cosignature/v1 key"),
    ("witness W {x1}\x0b\nquorum W\n", "control character"),
    ("logs {log}\nquorum none\n", "expected 'log"),
])
def test_a_file_that_breaks_the_format_is_refused_naming_the_line(text: str,
                                                                   problem: str) -> None:
    """Each rule of the format, broken once."""
    data = text.format(log=LOG_VKEY, x1=KEYS["X1"][1], x2=KEYS["X2"][1]).encode()
    with pytest.raises(PolicyFileError, match=problem):
        TrustPolicy.parse(data)
