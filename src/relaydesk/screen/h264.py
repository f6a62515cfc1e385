"""What a viewer checks in an H.264 access unit before a decoder sees it (docs/screen.md).

The presenter is a member like any other: its video frames are checked as strictly as its
tiles. ``check_access_unit`` splits the Annex B byte stream (start codes ``00 00 01``)
into NAL units and accepts only what relaydesk's presenter makes: slices, SEI, access
unit delimiters and, in keyframes only, the sequence and picture parameter sets. The
sequence parameter set is read (ITU-T H.264 §7.3.2.1.1) and must describe exactly the
region of the VIDEO_FRAME, 8-bit 4:2:0 progressive, with at most
``limits.MAX_VIDEO_REFERENCE_FRAMES`` reference pictures: so the decoder never allocates
more than a few pictures of the region's size, whatever the bytes say.

Pure computation: no I/O, no clock, no randomness. Raises only ``TileError``.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from relaydesk import limits
from relaydesk.errors import TileError

NAL_SLICE = 1
NAL_IDR = 5
NAL_SEI = 6
NAL_SPS = 7
NAL_PPS = 8
NAL_AUD = 9
_ALLOWED = frozenset({NAL_SLICE, NAL_IDR, NAL_SEI, NAL_SPS, NAL_PPS, NAL_AUD})
_NAMES = {NAL_SLICE: "slice", NAL_IDR: "IDR slice", NAL_SPS: "SPS", NAL_PPS: "PPS"}
# Baseline, Main, High: what x264 and every browser's decoder speak for 8-bit 4:2:0.
_PROFILES = frozenset({66, 77, 100})
_HIGH_PROFILES = frozenset({100})
_START_CODE = re.compile(b"\x00\x00\x01")
_MAX_GOLOMB_ZEROS = 31


class Sps(NamedTuple):
    """What a sequence parameter set says that matters to the viewer."""

    profile_idc: int
    constraints: int
    level_idc: int
    width: int  # after cropping
    height: int
    reference_frames: int

    @property
    def codec(self) -> str:
        """The codec string of WebCodecs and MIME types (RFC 6381), e.g. ``avc1.42c01f``."""
        return f"avc1.{self.profile_idc:02x}{self.constraints:02x}{self.level_idc:02x}"


def nal_units(data: bytes) -> list[bytes]:
    """The NAL units of an Annex B byte stream, without start codes. Refuses bytes before
    the first start code and empty units."""
    starts = [match.end() for match in _START_CODE.finditer(data)]
    if not starts or data[: starts[0] - 3].strip(b"\x00"):
        raise TileError("H.264 data does not start with a start code")
    units = []
    for index, start in enumerate(starts):
        end = starts[index + 1] - 3 if index + 1 < len(starts) else len(data)
        unit = data[start:end].rstrip(b"\x00")  # trailing zeros belong to the next start code
        if not unit:
            raise TileError("an empty H.264 NAL unit")
        units.append(unit)
    return units


def _rbsp(unit: bytes) -> bytes:
    """The payload of a NAL unit without its header and emulation prevention bytes."""
    return unit[1:].replace(b"\x00\x00\x03", b"\x00\x00")


class _Bits:
    """Reads bits, unsigned and exp-Golomb (H.264 §9.1); running out is a TileError."""

    def __init__(self, data: bytes) -> None:
        self._value = int.from_bytes(data, "big")
        self._left = len(data) * 8

    def bits(self, count: int) -> int:
        if count > self._left:
            raise TileError("an H.264 SPS is cut short")
        self._left -= count
        return (self._value >> self._left) & ((1 << count) - 1)

    def flag(self) -> bool:
        return self.bits(1) == 1

    def ue(self) -> int:
        zeros = 0
        while self.bits(1) == 0:
            zeros += 1
            if zeros > _MAX_GOLOMB_ZEROS:
                raise TileError("an H.264 SPS holds an out-of-range number")
        return (1 << zeros) - 1 + self.bits(zeros)

    def se(self) -> int:
        value = self.ue()
        return (value + 1) // 2 if value % 2 else -(value // 2)


def parse_sps(unit: bytes) -> Sps:
    """Read a sequence parameter set NAL unit; refuse what a relaydesk stream never has."""
    bits = _Bits(_rbsp(unit))
    profile_idc, constraints, level_idc = bits.bits(8), bits.bits(8), bits.bits(8)
    if profile_idc not in _PROFILES:
        raise TileError(f"H.264 profile {profile_idc} is not Baseline, Main or High")
    bits.ue()  # seq_parameter_set_id
    if profile_idc in _HIGH_PROFILES:
        if bits.ue() != 1:
            raise TileError("H.264 video must be 4:2:0")
        if bits.ue() != 0 or bits.ue() != 0:
            raise TileError("H.264 video must have 8-bit samples")
        bits.flag()  # qpprime_y_zero_transform_bypass_flag
        if bits.flag():
            raise TileError("H.264 scaling matrices are not used by relaydesk")
    bits.ue()  # log2_max_frame_num_minus4
    poc_type = bits.ue()
    if poc_type == 0:
        bits.ue()  # log2_max_pic_order_cnt_lsb_minus4
    elif poc_type == 1:
        bits.flag()
        bits.se()
        bits.se()
        cycle = bits.ue()
        if cycle > 255:
            raise TileError("an H.264 SPS with too long a picture order cycle")
        for _ in range(cycle):
            bits.se()
    elif poc_type != 2:
        raise TileError(f"H.264 picture order count type {poc_type} does not exist")
    reference_frames = bits.ue()
    if reference_frames > limits.MAX_VIDEO_REFERENCE_FRAMES:
        raise TileError(f"H.264 video asks to keep {reference_frames} reference pictures")
    bits.flag()  # gaps_in_frame_num_value_allowed_flag
    width_mbs, height_mbs = bits.ue() + 1, bits.ue() + 1
    if not bits.flag():
        raise TileError("H.264 video must be progressive (frame_mbs_only)")
    bits.flag()  # direct_8x8_inference_flag
    left = right = top = bottom = 0
    if bits.flag():
        left, right, top, bottom = bits.ue(), bits.ue(), bits.ue(), bits.ue()
    # 4:2:0 crops in units of two samples each way (§7.4.2.1.1).
    width = 16 * width_mbs - 2 * (left + right)
    height = 16 * height_mbs - 2 * (top + bottom)
    if width <= 0 or height <= 0:
        raise TileError("an H.264 SPS crops its picture away")
    return Sps(profile_idc, constraints, level_idc, width, height, reference_frames)


def check_access_unit(data: bytes, keyframe: bool, width: int, height: int) -> Sps | None:
    """Check one VIDEO_FRAME's H.264 data; return its SPS (keyframes carry one).

    A keyframe holds exactly one SPS, describing ``width`` x ``height``, one PPS and IDR
    slices only; any other frame holds non-IDR slices only. Either may add SEI and access
    unit delimiters. Raises ``TileError``."""
    kinds: list[int] = []
    sps: Sps | None = None
    for unit in nal_units(data):
        header = unit[0]
        kind = header & 0x1F
        if header & 0x80:
            raise TileError("an H.264 NAL unit with its forbidden bit set")
        if kind not in _ALLOWED:
            raise TileError(f"an H.264 NAL unit of type {kind}, which relaydesk does not send")
        if kind == NAL_SPS:
            if sps is not None:
                raise TileError("two H.264 SPS in one frame")
            sps = parse_sps(unit)
        kinds.append(kind)
    slices = [kind for kind in kinds if kind in (NAL_SLICE, NAL_IDR)]
    if not slices:
        raise TileError("an H.264 frame without a slice")
    if keyframe:
        if set(slices) != {NAL_IDR} or kinds.count(NAL_PPS) != 1 or sps is None:
            raise TileError("an H.264 keyframe must hold one SPS, one PPS and IDR slices")
        if (sps.width, sps.height) != (width, height):
            raise TileError(f"H.264 video of {sps.width}x{sps.height} in a {width}x{height} region")
        return sps
    unexpected = {NAL_IDR, NAL_SPS, NAL_PPS}.intersection(kinds)
    if unexpected:
        names = ", ".join(_NAMES[kind] for kind in sorted(unexpected))
        raise TileError(f"an H.264 frame that is not a keyframe holds: {names}")
    return None
