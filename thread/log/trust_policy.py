"""Which signatures a verifier requires of a checkpoint: a c2sp.org/tlog-policy file.

The file lists the logs accepted (``log <vkey> [<url>]``), the witnesses
(``witness <name> <vkey> [<url>]``, cosignature/v1 keys), groups of them
(``group <name> all|any|<k> <member>...``) and the one ``quorum <name>`` (or ``quorum
none``). A checkpoint satisfies it when one of the logs signed it and its verified
cosignatures make the quorum: a witness makes its name by cosigning, a group by at least
``k`` of its members. Names are opaque octets; a line may only name what earlier lines
defined; duplicate keys, duplicate members and a second quorum are refused. The hub's
mirror cosignature is a witness like any other here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from thread.log.checkpoint import (
    Checkpoint,
    CheckpointError,
    open_note,
    verifier_public_key,
)
from thread.log.cosignature import Cosigner, cosignatures, verifier

NONE = "none"


class PolicyFileError(CheckpointError):
    """A tlog-policy file that breaks the format: which line, and why."""


@dataclass(frozen=True)
class Group:
    """A group: witnessed when at least ``threshold`` of ``members`` are."""

    threshold: int
    members: tuple[str, ...]


@dataclass(frozen=True)
class Verdict:
    """Whether a checkpoint meets the policy, which log signed it, which witnesses
    cosigned it, and in words why not."""

    ok: bool
    log: str | None
    witnesses: tuple[str, ...]
    reason: str


@dataclass
class TrustPolicy:
    """A parsed tlog-policy."""

    logs: list[str] = field(default_factory=list)
    witnesses: dict[str, Cosigner] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    quorum: str = NONE

    @classmethod
    def from_file(cls, path: str | Path) -> TrustPolicy:
        """The policy in a file."""
        try:
            data = Path(path).read_bytes()
        except OSError as error:
            raise PolicyFileError(f"policy file {path}: {error.strerror}") from None
        return cls.parse(data, str(path))

    @classmethod
    def parse(cls, data: bytes, source: str = "policy") -> TrustPolicy:
        """Parse a policy file's octets (see the module)."""
        policy = cls()
        quorum: str | None = None
        keys: set[bytes] = set()
        for number, raw in enumerate(data.split(b"\n"), start=1):
            where = f"{source} line {number}"
            if any(byte < 0x20 and byte != 0x09 for byte in raw) or 0x7F in raw:
                raise PolicyFileError(f"{where}: a control character other than tab")
            line = raw.decode("utf-8", "surrogateescape")
            words = line.replace("\t", " ").split()
            if not words or words[0].startswith("#"):
                continue
            keyword, rest = words[0], words[1:]
            if keyword == "log" and len(rest) in (1, 2):
                key = _log_key(rest[0], where)
                if key in keys:
                    raise PolicyFileError(f"{where}: a key already listed")
                keys.add(key)
                policy.logs.append(rest[0])
            elif keyword == "witness" and len(rest) in (2, 3):
                name = rest[0]
                policy._new_name(name, where)
                try:
                    cosigner = verifier(rest[1])
                except CheckpointError as error:
                    raise PolicyFileError(f"{where}: {error}") from None
                if cosigner.public_key in keys:
                    raise PolicyFileError(f"{where}: a key already listed")
                keys.add(cosigner.public_key)
                policy.witnesses[name] = cosigner
            elif keyword == "group" and len(rest) >= 3:
                name, size, members = rest[0], rest[1], tuple(rest[2:])
                policy._new_name(name, where)
                for member in members:
                    if member == NONE or not policy._defined(member):
                        raise PolicyFileError(f"{where}: member {member!r} is not a witness "
                                              f"or group defined above")
                if len(set(members)) != len(members):
                    raise PolicyFileError(f"{where}: a member listed twice")
                threshold = (len(members) if size == "all" else 1 if size == "any"
                             else _threshold(size, len(members), where))
                policy.groups[name] = Group(threshold, members)
            elif keyword == "quorum" and len(rest) == 1:
                if quorum is not None:
                    raise PolicyFileError(f"{where}: a second quorum line")
                if rest[0] != NONE and not policy._defined(rest[0]):
                    raise PolicyFileError(f"{where}: quorum {rest[0]!r} is not defined above")
                quorum = rest[0]
            else:
                raise PolicyFileError(f"{where}: expected 'log <vkey> [<url>]', 'witness "
                                      f"<name> <vkey> [<url>]', 'group <name> all|any|<k> "
                                      f"<name>...' or 'quorum <name>'")
        if quorum is None:
            raise PolicyFileError(f"{source}: no quorum line")
        policy.quorum = quorum
        return policy

    def _defined(self, name: str) -> bool:
        return name in self.witnesses or name in self.groups

    def _new_name(self, name: str, where: str) -> None:
        if name == NONE or self._defined(name):
            raise PolicyFileError(f"{where}: name {name!r} is already defined or reserved")

    def verdict(self, note: str) -> Verdict:
        """Whether ``note`` (a checkpoint with its signature and cosignature lines) meets
        the policy."""
        log = None
        if self.logs:
            try:
                _, signed = open_note(note, self.logs)
            except CheckpointError as error:
                return Verdict(False, None, (), f"no listed log signed it: {error}")
            log = signed[0].split("+", 1)[0]
        else:
            Checkpoint.parse(note[:note.rfind("\n\n") + 1])
        cosigned = cosignatures(note, [c.text for c in self.witnesses.values()])
        keys = {c.cosigner.public_key for c in cosigned}
        names = tuple(n for n, c in self.witnesses.items() if c.public_key in keys)
        if self.quorum == NONE or self._witnessed(self.quorum, set(names)):
            return Verdict(True, log, names, "")
        return Verdict(False, log, names,
                       f"the cosignatures of {', '.join(names) or 'no witness'} do not make "
                       f"the quorum {self.quorum!r}")

    def _witnessed(self, name: str, cosigned: set[str]) -> bool:
        if name in self.witnesses:
            return name in cosigned
        group = self.groups[name]
        return sum(self._witnessed(m, cosigned) for m in group.members) >= group.threshold


def _log_key(text: str, where: str) -> bytes:
    """The public key of a log's note verifier key (type 0x01)."""
    try:
        return verifier_public_key(text)
    except CheckpointError as error:
        raise PolicyFileError(f"{where}: {error}") from None


def _threshold(text: str, members: int, where: str) -> int:
    if not text.isdigit() or not text.isascii() or (text.startswith("0")):
        raise PolicyFileError(f"{where}: the threshold is all, any or a decimal number")
    value = int(text)
    if not 1 <= value <= members:
        raise PolicyFileError(f"{where}: a threshold of {value} with {members} member(s)")
    return value
