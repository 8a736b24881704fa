"""Signed checkpoints in the C2SP formats: signed-note, tlog-checkpoint and tlog-proof."""

from __future__ import annotations

import base64
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thread.errors import IntegrityFailure
from thread.log.checkpoint import (
    Checkpoint,
    CheckpointError,
    TlogProof,
    generate_signer,
    open_note,
    sign_note,
    verifier_key_for,
    verify_checkpoint,
)
from thread.log.merkle import MemoryTree, inclusion_proof, leaf_hash
from thread.log.verify import ProofError, verify_tlog_proof

# The example of Go's golang.org/x/mod/sumdb/note package documentation: a
# signer key, its verifier key, a text and the note Go's Sign writes for it.
GO_SIGNER = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VERIFIER = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_SIGNATURE = (
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpR"
    "Zb6KE6RyyBwJnAM=\n"
)
GO_NOTE = GO_TEXT + "\n" + GO_SIGNATURE
# The same package's doubly-signed example: a second signature by EnochRoot.
ENOCH_VERIFIER = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
ENOCH_SIGNATURE = (
    "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33"
    "WWd1RvMc+QQ=\n"
)

# The example verifier key and note of c2sp.org/signed-note ("Verifier keys").
SPEC_VERIFIER = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n\n— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONn"
    "cAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)

# The example checkpoint body of c2sp.org/tlog-checkpoint.
SPEC_CHECKPOINT = (
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
)


def test_go_example_note_verifies() -> None:
    """The signed note of Go's sumdb/note documentation opens with its verifier key."""
    assert open_note(GO_NOTE, [GO_VERIFIER]) == (GO_TEXT, (GO_VERIFIER,))
    assert open_note(GO_NOTE.encode(), [GO_VERIFIER]) == (GO_TEXT, (GO_VERIFIER,))
    assert open_note(GO_NOTE, GO_VERIFIER) == (GO_TEXT, (GO_VERIFIER,))


def test_notes_that_are_not_utf8_are_rejected() -> None:
    """A note given as bytes must be valid UTF-8."""
    with pytest.raises(CheckpointError, match="not valid UTF-8 at byte 0"):
        open_note(b"\xff" + GO_NOTE.encode(), [GO_VERIFIER])


def test_signing_reproduces_the_go_example_byte_for_byte() -> None:
    """Signing the Go example's text with its signer key writes exactly Go's note."""
    assert sign_note(GO_TEXT, GO_SIGNER) == GO_NOTE
    assert verifier_key_for(GO_SIGNER) == GO_VERIFIER


def test_signed_note_spec_example_verifies() -> None:
    """The example note of c2sp.org/signed-note opens with the spec's verifier key."""
    assert open_note(SPEC_NOTE, [SPEC_VERIFIER]) == (
        "This is an example message.\n", (SPEC_VERIFIER,)
    )


@pytest.mark.parametrize("note", [GO_NOTE, SPEC_NOTE], ids=["go", "c2sp"])
def test_every_one_byte_change_to_an_example_is_rejected(note: str) -> None:
    """Flipping any bit-0 of any byte of an example note makes it fail to open."""
    encoded = note.encode()
    for position in range(len(encoded)):
        changed = bytearray(encoded)
        changed[position] ^= 0x01
        with pytest.raises(CheckpointError):
            open_note(bytes(changed), [GO_VERIFIER, SPEC_VERIFIER])


def test_signatures_by_unknown_keys_are_ignored() -> None:
    """A second signature by a key the verifier does not know neither helps nor hurts."""
    doubly_signed = GO_NOTE + ENOCH_SIGNATURE
    assert open_note(doubly_signed, [GO_VERIFIER])[1] == (GO_VERIFIER,)
    assert open_note(doubly_signed, [ENOCH_VERIFIER])[1] == (ENOCH_VERIFIER,)
    assert open_note(doubly_signed, [GO_VERIFIER, ENOCH_VERIFIER])[1] == (
        GO_VERIFIER, ENOCH_VERIFIER,
    )


def test_a_bad_signature_by_a_known_key_rejects_the_whole_note() -> None:
    """One known key's failing signature rejects the note even when another key's verifies."""
    forged = ENOCH_SIGNATURE.replace("Lox33", "Lox34")
    with pytest.raises(CheckpointError, match="line 2 by known key EnochRoot"):
        open_note(GO_NOTE + forged, [GO_VERIFIER, ENOCH_VERIFIER])


@pytest.mark.parametrize(
    ("note", "message"),
    [
        (GO_NOTE[:-1], "must end with a newline"),
        (GO_TEXT + GO_SIGNATURE, "no blank line"),
        (GO_TEXT + "\n", "no signature lines"),
        (GO_NOTE + "\n", "no signature lines"),
        (GO_NOTE.replace("—", "-"), "em dash"),
        (GO_NOTE.replace("— PeterNeumann ", "—PeterNeumann "), "em dash"),
        (GO_NOTE.replace("PeterNeumann ", "PeterNeumann  "), "must be '— <key name>"),
        (GO_NOTE.replace("AM=\n", "AM\n"), "not standard padded base64"),
        (GO_NOTE.replace("x08go/ZJ", "x08go_ZJ"), "not standard padded base64"),
        (GO_NOTE.replace("AM=\n", "AN=\n"), "not canonical base64"),
        (GO_TEXT + "\n— PeterNeumann xw==\n", "needs a 4-byte key id"),
        (GO_NOTE.replace("problem,", "problem,\t"), "control character U\\+0009"),
        (GO_NOTE.replace("\n", "\r\n"), "control character U\\+000D"),
        (GO_NOTE + GO_SIGNATURE * 100, "at most 100"),
    ],
    ids=[
        "no final newline", "no blank line", "no signatures", "trailing blank line",
        "hyphen for em dash", "no space after dash", "two spaces", "missing padding",
        "url-safe base64", "non-canonical base64", "no signature after key id", "tab",
        "crlf", "too many signatures",
    ],
)
def test_malformed_notes_are_rejected(note: str, message: str) -> None:
    """A note that breaks the signed-note format raises CheckpointError saying how."""
    with pytest.raises(CheckpointError, match=message):
        open_note(note, [GO_VERIFIER])


def test_a_note_signed_only_by_unknown_keys_is_rejected() -> None:
    """Without a signature by a known key the note is refused, naming the keys tried."""
    with pytest.raises(CheckpointError, match=r"by a known key \(EnochRoot\+af0cfe78\)"):
        open_note(GO_NOTE, [ENOCH_VERIFIER])


def test_notes_we_sign_verify_with_our_key_only() -> None:
    """A note we sign opens with our verifier key and not with another key of the same name."""
    signer, verifier = generate_signer("ledger.example/plant-7")
    other_signer, other_verifier = generate_signer("ledger.example/plant-7")
    note = sign_note("hello\n\nworld\n", signer)
    assert note.startswith("hello\n\nworld\n\n— ledger.example/plant-7 ")
    assert open_note(note, [verifier]) == ("hello\n\nworld\n", (verifier,))
    assert verifier_key_for(signer) == verifier
    with pytest.raises(CheckpointError, match="no signature by a known key"):
        open_note(note, [other_verifier])
    assert signer.startswith("PRIVATE+KEY+ledger.example/plant-7+")
    assert other_signer != signer


@pytest.mark.parametrize("name", ["", "has space", "has+plus", "tab\tname", "nbsp\u00a0name"])
def test_key_names_with_spaces_or_plus_are_refused(name: str) -> None:
    """Key names must be non-empty without spaces or '+', as the spec requires."""
    with pytest.raises(CheckpointError, match="key name"):
        generate_signer(name)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "not the id"),
        ("PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "not 8 hex"),
        ("PeterNeumann+c74f20a3+Apc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "base64"),
        ("PeterNeumann+c74f20a3+" + base64.b64encode(bytes([1] * 32)).decode(), "decodes to 32"),
        ("PeterNeumann+c74f20a3+Ahpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "type 0x02"),
        ("PeterNeumann", "must be '<name>"),
    ],
    ids=["wrong id", "short id", "bad base64", "short key", "not ed25519", "no parts"],
)
def test_malformed_verifier_keys_are_refused(key: str, message: str) -> None:
    """A verifier key string that is malformed or whose id does not match is refused."""
    with pytest.raises(CheckpointError, match=message):
        open_note(GO_NOTE, [key])


def test_signer_keys_are_checked() -> None:
    """A signer key without the PRIVATE+KEY prefix or with a wrong id is refused."""
    with pytest.raises(CheckpointError, match="must start with 'PRIVATE\\+KEY\\+'"):
        sign_note(GO_TEXT, GO_SIGNER.removeprefix("PRIVATE+"))
    with pytest.raises(CheckpointError, match="not the id of its key"):
        sign_note(GO_TEXT, GO_SIGNER.replace("c74f20a3", "c74f20a4"))
    with pytest.raises(CheckpointError, match="must end with a newline"):
        sign_note(GO_TEXT.rstrip("\n"), GO_SIGNER)


def test_the_spec_checkpoint_round_trips() -> None:
    """The c2sp.org/tlog-checkpoint example parses and is written back byte for byte."""
    checkpoint = Checkpoint.parse(SPEC_CHECKPOINT)
    assert checkpoint.origin == "example.com/behind-the-sofa"
    assert checkpoint.size == 20852163
    assert checkpoint.root == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    assert checkpoint.body() == SPEC_CHECKPOINT


line_text = st.text(
    st.characters(min_codepoint=0x20, blacklist_categories=["Cs"]), min_size=1, max_size=30
)


@given(
    line_text, st.integers(0, 2**64 - 1), st.binary(min_size=32, max_size=32),
    st.lists(line_text, max_size=3),
)
@settings(max_examples=200)
def test_checkpoint_bodies_round_trip(
    origin: str, size: int, root: bytes, extensions: list[str]
) -> None:
    """Any checkpoint's body parses back to the same checkpoint."""
    checkpoint = Checkpoint(origin, size, root, tuple(extensions))
    assert Checkpoint.parse(checkpoint.body()) == checkpoint


ROOT_LINE = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (SPEC_CHECKPOINT[:-1], "end with a newline"),
        ("example.com/log\n5\n", "has 2 lines"),
        (f"\n5\n{ROOT_LINE}\n", "origin\\) is empty"),
        (f"log\n05\n{ROOT_LINE}\n", "'05'"),
        (f"log\n+5\n{ROOT_LINE}\n", "'\\+5'"),
        (f"log\n-5\n{ROOT_LINE}\n", "'-5'"),
        (f"log\n 5\n{ROOT_LINE}\n", "' 5'"),
        (f"log\n1_000\n{ROOT_LINE}\n", "'1_000'"),
        (f"log\n\u0665\n{ROOT_LINE}\n", "tree size"),
        (f"log\n{2**64}\n{ROOT_LINE}\n", "beyond the largest tree size"),
        ("log\n5\nnot base64!\n", "not standard padded base64"),
        ("log\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n", "not standard padded"),
        ("log\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n", "not canonical base64"),
        ("log\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jx\n", "decodes to 30 bytes"),
        (f"log\n5\n{ROOT_LINE}\n\n", "line 4 \\(extension\\) is empty"),
        (f"log\r\n5\n{ROOT_LINE}\n", "origin"),
    ],
    ids=[
        "no final newline", "missing root", "empty origin", "leading zero", "plus sign",
        "negative", "leading space", "underscore", "arabic digit", "too large",
        "root not base64", "root unpadded", "root non-canonical", "root 30 bytes",
        "empty extension", "carriage return",
    ],
)
def test_malformed_checkpoint_bodies_are_rejected(body: str, message: str) -> None:
    """A checkpoint body that breaks tlog-checkpoint raises CheckpointError saying how."""
    with pytest.raises(CheckpointError, match=message):
        Checkpoint.parse(body)


def test_signed_checkpoints_verify() -> None:
    """A checkpoint we sign verifies with our key, for its origin, and not with another key."""
    signer, verifier = generate_signer("ledger.example/plant-7")
    checkpoint = Checkpoint("ledger.example/plant-7", 3, bytes(range(32)))
    note = sign_note(checkpoint.body(), signer)
    assert verify_checkpoint(note, verifier) == checkpoint
    assert verify_checkpoint(note, verifier, origin="ledger.example/plant-7") == checkpoint
    with pytest.raises(CheckpointError, match=r"not the expected 'ledger\.example/other'"):
        verify_checkpoint(note, verifier, origin="ledger.example/other")
    with pytest.raises(CheckpointError, match="no signature by a known key"):
        verify_checkpoint(note, generate_signer("ledger.example/plant-7")[1])
    with pytest.raises(CheckpointError, match="2 lines"):
        verify_checkpoint(sign_note("only\ntwo\n", signer), verifier)
    assert issubclass(CheckpointError, IntegrityFailure)


def _proof_of(leaves: list[bytes], index: int, signer: str, extra: bytes = b"") -> TlogProof:
    tree = MemoryTree(leaves)
    checkpoint = Checkpoint("ledger.example/plant-7", len(leaves), tree.root())
    note = sign_note(checkpoint.body(), signer)
    hashes = tuple(inclusion_proof(index, len(leaves), tree.subtree))
    return TlogProof(index, hashes, note, extra)


def test_tlog_proof_layout() -> None:
    """A tlog-proof is the header, extra, index, proof hashes, a blank line and the note."""
    signer, _ = generate_signer("ledger.example/plant-7")
    leaves = [leaf_hash(bytes([i])) for i in range(5)]
    proof = _proof_of(leaves, 1, signer, extra=b"SN-0042")
    lines = [
        "c2sp.org/tlog-proof@v1",
        "extra " + base64.b64encode(b"SN-0042").decode(),
        "index 1",
        *(base64.b64encode(value).decode() for value in proof.hashes),
    ]
    assert proof.text() == "\n".join(lines) + "\n\n" + proof.checkpoint
    assert TlogProof.parse(proof.text()) == proof
    without_extra = TlogProof(1, proof.hashes, proof.checkpoint)
    assert without_extra.text().startswith("c2sp.org/tlog-proof@v1\nindex 1\n")


def test_the_spec_tlog_proof_example_parses() -> None:
    """The c2sp.org/tlog-proof example parses into extra, index, hashes and the note verbatim."""
    note = (
        "example.com/fancylog\n109482\nsFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=\n\n"
        "— example.com/fancylog hI2DJw[...]1roloI=\n"
    )
    text = (
        "c2sp.org/tlog-proof@v1\n"
        "extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ\n"
        "index 73894\n"
        "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=\n"
        "B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=\n"
        "\n" + note
    )
    proof = TlogProof.parse(text)
    assert proof.extra.startswith(b"age-v1.2.1-darwin-arm64.tar.gz")
    assert (proof.index, len(proof.hashes), proof.checkpoint) == (73894, 2, note)
    assert proof.text() == text


@given(st.integers(1, 40), st.data())
@settings(max_examples=25, deadline=None)
def test_tlog_proofs_verify_end_to_end(size: int, data: st.DataObject) -> None:
    """A tlog-proof we write verifies for its leaf and fails for any other leaf or key."""
    signer, verifier = generate_signer("ledger.example/plant-7")
    leaves = [leaf_hash(i.to_bytes(2, "big")) for i in range(size)]
    index = data.draw(st.integers(0, size - 1))
    text = _proof_of(leaves, index, signer).text()
    checkpoint = verify_tlog_proof(text, leaves[index], verifier, origin="ledger.example/plant-7")
    assert (checkpoint.size, checkpoint.root) == (size, MemoryTree(leaves).root())
    with pytest.raises(ProofError):
        verify_tlog_proof(text, leaf_hash(b"not logged"), verifier)
    with pytest.raises(CheckpointError):
        verify_tlog_proof(text, leaves[index], generate_signer("ledger.example/plant-7")[1])


def test_tampered_tlog_proof_fails() -> None:
    """Changing a proof hash line or the index of a tlog-proof makes verification fail."""
    signer, verifier = generate_signer("ledger.example/plant-7")
    leaves = [leaf_hash(bytes([i])) for i in range(6)]
    proof = _proof_of(leaves, 2, signer)
    changed = bytearray(proof.hashes[1])
    changed[0] ^= 1
    tampered = TlogProof(2, (proof.hashes[0], bytes(changed), *proof.hashes[2:]), proof.checkpoint)
    with pytest.raises(ProofError, match="does not match the expected root"):
        verify_tlog_proof(tampered.text(), leaves[2], verifier)
    moved = TlogProof(3, proof.hashes, proof.checkpoint)
    with pytest.raises(ProofError):
        verify_tlog_proof(moved.text(), leaves[2], verifier)


HASH_LINE = base64.b64encode(bytes(32)).decode()
NOTE = "log\n1\n" + HASH_LINE + "\n\n— log AAAA\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"c2sp.org/tlog-proof@v2\nindex 0\n\n{NOTE}", "not 'c2sp.org/tlog-proof@v1'"),
        (f"c2sp.org/tlog-proof@v1\n{HASH_LINE}\n\n{NOTE}", "no 'index <n>' line"),
        (f"c2sp.org/tlog-proof@v1\nindex 01\n\n{NOTE}", "'01'"),
        (f"c2sp.org/tlog-proof@v1\nextra \nindex 0\n\n{NOTE}", "must be omitted"),
        (f"c2sp.org/tlog-proof@v1\nextra %%\nindex 0\n\n{NOTE}", "extra data is not"),
        (f"c2sp.org/tlog-proof@v1\nindex 0\n{HASH_LINE[:-4]}\n\n{NOTE}", "hash line 3"),
        (f"c2sp.org/tlog-proof@v1\nindex 0\n{NOTE}", "tlog-proof hash line 3"),
        ("c2sp.org/tlog-proof@v1\nindex 0\n", "no blank line"),
        ("c2sp.org/tlog-proof@v1\nindex 0\n\n", "no checkpoint"),
        ("c2sp.org/tlog-proof@v1\nindex 0\n\nlog", "ending in a newline"),
    ],
    ids=[
        "wrong version", "no index", "leading zero", "empty extra", "bad extra", "short hash",
        "no blank line before note", "no blank line", "no checkpoint", "unterminated note",
    ],
)
def test_malformed_tlog_proofs_are_rejected(text: str, message: str) -> None:
    """A tlog-proof that breaks the format raises CheckpointError saying how."""
    with pytest.raises(CheckpointError, match=message):
        TlogProof.parse(text)


def test_key_text_alphabet_is_plain_ascii() -> None:
    """Generated key strings are ASCII: name, 8 lowercase hex digits, standard base64."""
    signer, verifier = generate_signer("ledger.example/plant-7")
    name, key_id, key = verifier.split("+", 2)
    assert name == "ledger.example/plant-7"
    assert len(key_id) == 8 and set(key_id) <= set(string.hexdigits.lower())
    assert len(base64.b64decode(key)) == 33 and base64.b64decode(key)[0] == 1
    assert signer.split("+")[3] == key_id
