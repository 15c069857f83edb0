"""Fingerprint without a server: the text and binary forms and their framing errors."""
import struct

import pytest

import afp
from afp import Fingerprint, MalformedFingerprint

TEXT = "1:1:8000:128:8000:23341697@5,23341697@9,23348097@1"


def test_installed_package_is_tested():
    # run-tests installs ./python into a venv and runs from elsewhere: not the source tree.
    assert "site-packages" in afp.__file__ or "dist-packages" in afp.__file__


def test_text_form_round_trips():
    fp = Fingerprint.from_text(TEXT)
    assert (fp.version, fp.param_set, fp.sample_rate, fp.hop, fp.n_samples) == (1, 1, 8000, 128, 8000)
    assert fp.landmarks == ((23341697, 5), (23341697, 9), (23348097, 1))
    assert fp.to_text() == TEXT and str(fp) == TEXT
    assert Fingerprint.from_text("  " + TEXT + "\n") == fp
    assert fp.duration == 1.0 and len(fp) == 3 and fp.hashes() == [23341697, 23348097]
    assert fp.times()[0] == (23341697, 5 * 128 / 8000)


def test_binary_form_round_trips():
    fp = Fingerprint.from_text(TEXT)
    data = fp.to_binary()
    assert data[:16] == struct.pack("!BBHIII", 1, 1, 128, 8000, 8000, 3)
    assert struct.unpack("!ii", data[16:24]) == (23341697, 5)
    assert len(data) == 16 + 3 * 8
    assert Fingerprint.from_binary(data) == fp
    assert Fingerprint.from_binary(memoryview(data)) == fp


def test_empty_fingerprint():
    fp = Fingerprint.from_text("1:1:8000:128:0:")
    assert len(fp) == 0 and fp.to_text() == "1:1:8000:128:0:"
    assert Fingerprint.from_binary(fp.to_binary()) == fp and len(fp.to_binary()) == 16


def test_from_landmarks_sorts_and_dedupes():
    fp = Fingerprint.from_landmarks([(5, 2), (3, 1), (5, 2), (5, 1)], n_samples=8000)
    assert fp.landmarks == ((3, 1), (5, 1), (5, 2))


@pytest.mark.parametrize("text", ["", "1:1:8000:128", "1:1:8000:128:x:", "1:1:8000:128:0:5", "1:1:8000:128:0:5@",
                                  "1:1:8000:128:0:-5@1", "1:1:8000:128:0:1@1,", "300:1:8000:128:0:"])
def test_malformed_text(text):
    with pytest.raises(MalformedFingerprint):
        Fingerprint.from_text(text)


@pytest.mark.parametrize("data", [b"", b"\x01" * 15, struct.pack("!BBHIII", 1, 1, 128, 8000, 8000, 2) + b"\0" * 8])
def test_malformed_binary(data):
    with pytest.raises(MalformedFingerprint):
        Fingerprint.from_binary(data)


def test_errors_are_value_errors():
    assert issubclass(MalformedFingerprint, ValueError) and issubclass(MalformedFingerprint, afp.AfpError)
