"""The afp value as a Python object, and its two wire forms.

Text form (afp_out / afp_in)::

    version:param_set:sample_rate:hop:n_samples:hash@frame,hash@frame,...

Binary form (afp_send / afp_recv), network byte order::

    version int1, param_set int1, hop int2, sample_rate int4, n_samples int4, count int4,
    then count pairs of (hash int4, frame int4)

The server validates every value it receives (parameter set, hash ranges, order, frames within
the audio) and answers 22P02 / 22P03 when one fails; this module only checks the framing, so a
value it builds by hand is judged by the server, not here.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Iterable, List, Sequence, Tuple

from .errors import MalformedFingerprint

_HEADER = struct.Struct("!BBHIII")  # version, param_set, hop, sample_rate, n_samples, count
_U32 = 0xFFFFFFFF


@dataclass(frozen=True)
class Fingerprint:
    """A fingerprint: its header fields and its landmarks, (hash, frame) pairs sorted by hash then
    frame. ``frame`` counts analysis hops of ``hop / sample_rate`` seconds."""

    version: int = 1
    param_set: int = 1
    sample_rate: int = 8000
    hop: int = 128
    n_samples: int = 0
    landmarks: Tuple[Tuple[int, int], ...] = field(default=())

    def __post_init__(self):
        object.__setattr__(self, "landmarks", tuple((int(h), int(f)) for h, f in self.landmarks))
        for name, top in (("version", 255), ("param_set", 255), ("hop", 65535), ("sample_rate", _U32),
                          ("n_samples", _U32)):
            v = getattr(self, name)
            if not isinstance(v, int) or not 0 <= v <= top:
                raise MalformedFingerprint("%s must be an integer in [0, %d], not %r" % (name, top, v))
        for h, f in self.landmarks:
            if not 0 <= h <= 0x7FFFFFFF or not 0 <= f <= _U32:
                raise MalformedFingerprint("landmark (%d, %d) is out of range" % (h, f))

    # -- what the value says -------------------------------------------------------------------

    @property
    def duration(self) -> float:
        """Seconds of audio covered (afp_duration)."""
        return self.n_samples / self.sample_rate if self.sample_rate else 0.0

    def hashes(self) -> List[int]:
        """Distinct hashes, ascending (afp_hashes)."""
        return sorted({h for h, _ in self.landmarks})

    def times(self) -> List[Tuple[int, float]]:
        """Every landmark as (hash, seconds), as afp_landmarks() lists them."""
        step = self.hop / self.sample_rate
        return [(h, f * step) for h, f in self.landmarks]

    def __len__(self) -> int:
        return len(self.landmarks)

    def __iter__(self):
        return iter(self.landmarks)

    def __repr__(self) -> str:
        return "Fingerprint(version=%d, param_set=%d, sample_rate=%d, hop=%d, n_samples=%d, %d landmarks)" % (
            self.version, self.param_set, self.sample_rate, self.hop, self.n_samples, len(self.landmarks))

    # -- text form ------------------------------------------------------------------------------

    def to_text(self) -> str:
        head = "%d:%d:%d:%d:%d:" % (self.version, self.param_set, self.sample_rate, self.hop, self.n_samples)
        return head + ",".join("%d@%d" % lm for lm in self.landmarks)

    __str__ = to_text

    @classmethod
    def from_text(cls, text) -> "Fingerprint":
        if isinstance(text, (bytes, bytearray, memoryview)):
            text = bytes(text).decode("ascii", "replace")
        parts = text.strip().split(":")
        if len(parts) != 6:
            raise MalformedFingerprint("expected version:param_set:sample_rate:hop:n_samples:landmarks, got %d fields"
                                       % len(parts))
        try:
            header = [_number(p, name) for p, name in
                      zip(parts[:5], ("version", "param_set", "sample_rate", "hop", "n_samples"))]
            landmarks = []
            if parts[5]:
                for item in parts[5].split(","):
                    h, at, f = item.partition("@")
                    if not at:
                        raise MalformedFingerprint("landmark %r lacks '@'" % item)
                    landmarks.append((_number(h, "landmark hash"), _number(f, "landmark frame")))
        except ValueError as e:
            raise MalformedFingerprint(str(e)) from None
        version, param_set, sample_rate, hop, n_samples = header
        return cls(version, param_set, sample_rate, hop, n_samples, tuple(landmarks))

    # -- binary form ----------------------------------------------------------------------------

    def to_binary(self) -> bytes:
        n = len(self.landmarks)
        out = bytearray(_HEADER.size + 8 * n)
        _HEADER.pack_into(out, 0, self.version, self.param_set, self.hop, self.sample_rate, self.n_samples, n)
        if n:
            flat = [x for lm in self.landmarks for x in lm]
            struct.pack_into("!%dI" % (2 * n), out, _HEADER.size, *flat)
        return bytes(out)

    @classmethod
    def from_binary(cls, data) -> "Fingerprint":
        data = bytes(data)
        if len(data) < _HEADER.size:
            raise MalformedFingerprint("%d bytes, fewer than the 16-byte header" % len(data))
        version, param_set, hop, sample_rate, n_samples, count = _HEADER.unpack_from(data, 0)
        if len(data) - _HEADER.size != 8 * count:
            raise MalformedFingerprint("the header declares %d landmarks, which need %d bytes, but %d follow it"
                                       % (count, 8 * count, len(data) - _HEADER.size))
        flat = struct.unpack_from("!%dI" % (2 * count), data, _HEADER.size)
        return cls(version, param_set, sample_rate, hop, n_samples, tuple(zip(flat[0::2], flat[1::2])))

    # -- building one ---------------------------------------------------------------------------

    @classmethod
    def from_landmarks(cls, landmarks: Iterable[Sequence[int]], n_samples: int, **header) -> "Fingerprint":
        """A value of the given landmarks, sorted and without repeats as the server requires."""
        return cls(n_samples=n_samples, landmarks=tuple(sorted({(int(h), int(f)) for h, f in landmarks})), **header)


def _number(text: str, what: str) -> int:
    if not text.isdigit() or not text.isascii():
        raise MalformedFingerprint("expected a number for the %s, got %r" % (what, text))
    return int(text)
