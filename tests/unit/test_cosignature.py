"""c2sp.org/tlog-cosignature (Ed25519, cosignature/v1): the line layout, the key id, the
signed message, and what a verifier accepts, ignores and refuses."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from thread.log.checkpoint import CheckpointError, generate_signer, sign_note
from thread.log.cosignature import (
    COSIGNATURE_V1,
    cosign,
    cosignatures,
    generate_cosigner,
    key_id,
    signed_message,
    verifier,
)

#: The checkpoint and witness line of the specification's own example.
SPEC_BODY = ("example.com/behind-the-sofa\n20852163\n"
             "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n")
SPEC_LINE = ("jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZ"
             "qhf5nNo0xUe+mbIUBkBIfZ+qnA==")


def _note(body: str = SPEC_BODY) -> str:
    signer, _ = generate_signer("example.com/behind-the-sofa")
    return sign_note(body, signer)


def test_the_specification_s_line_has_the_layout_we_write() -> None:
    """The example witness line is key id (4) || big-endian timestamp (8) || signature (64),
    its timestamp the one the specification's signed-message example shows."""
    blob = base64.b64decode(SPEC_LINE)
    assert len(blob) == 4 + 8 + 64
    assert int.from_bytes(blob[4:12], "big") == 1679315147
    assert signed_message(SPEC_BODY, 1679315147) == (
        b"cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\n"
        b"CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n")


def test_a_cosignature_is_an_ed25519_signature_over_the_signed_message() -> None:
    """The line verifies with plain Ed25519 over the header, time line and body, and its key
    id is SHA-256(name, newline, 0x04, key)[:4]."""
    signer, vkey = generate_cosigner("hub.example/mirror")
    line = cosign(SPEC_BODY, signer, 1_700_000_000)
    name, encoded = line.removeprefix("\u2014 ").removesuffix("\n").split(" ")
    blob = base64.b64decode(encoded)
    public = base64.b64decode(vkey.split("+", 2)[2])
    assert public[0] == COSIGNATURE_V1 and name == "hub.example/mirror"
    assert blob[:4] == hashlib.sha256(b"hub.example/mirror\n\x04" + public[1:]).digest()[:4]
    assert blob[:4] == key_id(name, public[1:])
    assert int.from_bytes(blob[4:12], "big") == 1_700_000_000
    Ed25519PublicKey.from_public_bytes(public[1:]).verify(
        blob[12:], signed_message(SPEC_BODY, 1_700_000_000))


def test_a_verifier_keeps_known_cosigners_and_ignores_the_rest() -> None:
    """The log's own signature and an unknown cosigner are ignored; the known one verifies
    with its time; a note with no known cosignature yields none."""
    note = _note()
    mine, mine_vkey = generate_cosigner("hub.example/mirror")
    other, _ = generate_cosigner("witness.example/w1")
    cosigned = note + cosign(SPEC_BODY, mine, 1) + cosign(SPEC_BODY, other, 2)
    found = cosignatures(cosigned, [mine_vkey])
    assert [(c.cosigner.name, c.timestamp) for c in found] == [("hub.example/mirror", 1)]
    assert cosignatures(note, [mine_vkey]) == []


def test_a_cosignature_on_another_checkpoint_or_time_is_refused() -> None:
    """A line moved to a checkpoint of another size, or with its time changed, does not
    verify under the known key."""
    signer, vkey = generate_cosigner("hub.example/mirror")
    line = cosign(SPEC_BODY, signer, 5)
    other_body = SPEC_BODY.replace("20852163", "20852164")
    with pytest.raises(CheckpointError, match="does not verify"):
        cosignatures(_note(other_body) + line, [vkey])
    blob = bytearray(base64.b64decode(line.split(" ")[2]))
    blob[11] ^= 1
    forged = f"\u2014 hub.example/mirror {base64.b64encode(bytes(blob)).decode()}\n"
    with pytest.raises(CheckpointError, match="does not verify"):
        cosignatures(_note() + forged, [vkey])


def test_keys_are_checked() -> None:
    """A verifier key whose id is not its key's, or of the note type 0x01, is refused."""
    _, vkey = generate_cosigner("hub.example/mirror")
    name, _, material = vkey.split("+", 2)
    with pytest.raises(CheckpointError, match="not the id"):
        verifier(f"{name}+00000000+{material}")
    _, note_vkey = generate_signer("hub.example/mirror")
    with pytest.raises(CheckpointError, match="cosignature/v1 key"):
        verifier(note_vkey)
    assert verifier(vkey).text == vkey
