"""`EditSession` without a window: the brush's disc in the slice shown, undo by stroke then by correction,
a drag's repeated placements kept as one correction, the refusals (no Qt needed)."""

from __future__ import annotations

import numpy as np
import pytest

from ivcplan.errors import InputError
from ivcplan.labels import Label
from ivcplan.viewer.editing import EditSession, _disc
from ivcplan.volume import Volume


def test_the_brush_disc_is_round_in_millimetres_and_stays_in_its_slice() -> None:
    shape, spacing = (10, 40, 40), (5.0, 0.5, 1.0)
    flat = _disc(shape, spacing, (4.2, 20.0, 20.0), 0, 4.0)
    z, y, x = np.unravel_index(flat, shape)
    assert set(z) == {4}
    # 4 mm: 8 voxels along y (0.5 mm), 4 along x (1 mm) from the centre.
    assert (y.min(), y.max(), x.min(), x.max()) == (12, 28, 16, 24)
    assert np.all(((y - 20) * 0.5) ** 2 + ((x - 20) * 1.0) ** 2 <= 16.0)
    expected = sum(1 for j in range(40) for i in range(40) if ((j - 20) * 0.5) ** 2 + (i - 20) ** 2 <= 16.0)
    assert len(flat) == expected
    assert _disc(shape, spacing, (12.0, 20.0, 20.0), 0, 4.0) is None  # a slice outside the volume
    clipped = _disc(shape, spacing, (4.0, 0.0, 0.0), 0, 4.0)  # at the corner: only the voxels inside
    assert len(clipped) == sum(1 for j in range(9) for i in range(5) if (j * 0.5) ** 2 + i ** 2 <= 16.0)


class _Analysis:
    """The parts of an Analysis a session reads before a re-plan."""

    def __init__(self) -> None:
        from ivcplan.anatomy import Segmentation
        from ivcplan.volume import Labelmap

        volume = Volume.from_array(np.zeros((6, 30, 30), np.int16), spacing=(3.0, 1.0, 1.0))
        arr = np.zeros(volume.shape, np.uint8)
        arr[:, 10:20, 10:20] = Label.IVC_LUMEN
        self.volume = volume
        self.segmentation = Segmentation(Labelmap(arr, volume.grid), {}, "unknown", ())
        self.report = {"landmarks": {"renal_veins": {"position_mm": [1.0, 2.0, 3.0]},
                                     "hepatic_veins": {"position_mm": None}},
                       "tumor": {"hepatic_veins_invaded": ["left"], "hepatic_veins_abutting": []}}


def test_strokes_undo_one_by_one_then_the_corrections() -> None:
    session = EditSession(_Analysis(), by="tester")
    original = session.labels.copy()
    session.begin_stroke()
    first = session.paint((2, 15, 15), 0, Label.IVC_TUMOR, 3.0) + session.paint((2, 15, 18), 0, Label.IVC_TUMOR, 3.0)
    assert session.end_stroke() == first > 0
    after_first = session.labels.copy()
    session.begin_stroke()
    erased = session.paint((3, 15, 15), 0, 0, 2.0)  # erase: background
    session.end_stroke()
    assert erased > 0 and np.count_nonzero(session.labels[3] == 0) > np.count_nonzero(original[3] == 0)
    session.place_landmark("hepatic_veins", [0.0, 0.0, 0.0])
    session.place_landmark("hepatic_veins", [0.0, 0.0, 6.0])  # dragged on: still one correction
    assert [(c.what, c.new) for c in session.pending] == [("landmarks.hepatic_veins.position_mm", [0.0, 0.0, 6.0])]
    assert session.landmark_positions() == {"renal_veins": [1.0, 2.0, 3.0], "hepatic_veins": [0.0, 0.0, 6.0]}
    assert session.undo() == f"brush stroke ({erased} voxels)"
    assert np.array_equal(session.labels, after_first)
    assert session.undo() == f"brush stroke ({first} voxels)"
    assert np.array_equal(session.labels, original) and session.dirty  # the landmark is still pending
    assert session.undo() == "landmarks.hepatic_veins.position_mm"
    assert not session.dirty and session.undo() is None


def test_vein_states_set_both_lists_and_bad_edits_are_refused() -> None:
    session = EditSession(_Analysis(), by="tester")
    assert session.vein_state("left") == "invaded" and session.vein_state("right") == "free"
    session.set_vein("left", "abutting")
    assert {c.what: c.new for c in session.pending} == {"tumor.hepatic_veins_invaded": [],
                                                        "tumor.hepatic_veins_abutting": ["left"]}
    assert session.vein_state("left") == "abutting"
    with pytest.raises(InputError, match="the brush paints"):
        session.paint((2, 15, 15), 0, Label.LIVER)
    with pytest.raises(InputError, match="unknown landmark"):
        session.place_landmark("renal_vien", [0.0, 0.0, 0.0])
    with pytest.raises(InputError, match="re-plan before saving"):
        session.save("/nonexistent/out")


def test_unknown_invasion_is_shown_unknown_and_setting_one_vein_states_both_lists() -> None:
    # No hepatic vein segmented: the analysis reports invasion unknown (null), never "free".
    analysis = _Analysis()
    analysis.report["tumor"] = {"hepatic_veins_invaded": None, "hepatic_veins_abutting": None}
    session = EditSession(analysis, by="tester")
    assert [session.vein_state(s) for s in ("right", "middle", "left")] == ["unknown"] * 3
    # "free" changes nothing in the lists' members, yet it must be recorded: null -> [].
    session.set_vein("right", "free")
    assert {c.what: (c.old, c.new) for c in session.pending} == {"tumor.hepatic_veins_invaded": (None, []),
                                                                 "tumor.hepatic_veins_abutting": (None, [])}
    assert [session.vein_state(s) for s in ("right", "middle", "left")] == ["free"] * 3
