"""The perturbed real-CT variants of scripts/evaluate_perturbed.py keep image and reference masks on one
geometry: thicker slices at the mean position of the slices they merge, crops that remove the slices named
(lowest or highest, whichever way the index runs), noise of the stated SD."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from ivcplan.volume import Grid, Volume

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import evaluate_perturbed as ep


def _volume(z_step: float) -> tuple[Volume, dict[str, np.ndarray]]:
    n = 12
    affine = np.eye(4)
    affine[:3, 0] = [0.0, 0.0, z_step]  # index axis 0 runs along LPS z (up or down)
    affine[:3, 1] = [0.0, 0.8, 0.0]
    affine[:3, 2] = [0.8, 0.0, 0.0]
    affine[:3, 3] = [-10.0, -5.0, 100.0]
    arr = np.repeat(np.arange(n, dtype=np.int16)[:, None, None] * 10, 8, axis=1).repeat(6, axis=2)
    mask = np.zeros(arr.shape, bool)
    mask[4:7] = True
    return Volume(arr, Grid.from_affine(arr.shape, affine), {}), {"venoussystem": mask}


@pytest.mark.parametrize("z_step", [1.6, -1.6])
def test_thicker_slices_sit_at_the_mean_of_the_slices_they_merge(z_step):
    vol, refs = _volume(z_step)
    thick, masks = ep.MAKERS["thick3"](vol, refs)
    assert thick.shape == (4, 8, 6) and thick.spacing[0] == pytest.approx(4.8)
    for k in range(4):
        merged = vol.grid.index_to_lps([[3 * k + j, 0, 0] for j in range(3)]).mean(axis=0)
        assert np.allclose(thick.grid.index_to_lps([[k, 0, 0]])[0], merged)
        assert thick.array[k, 0, 0] == round(np.mean(vol.array[3 * k:3 * k + 3, 0, 0]))
    # Slices 4-6 masked: merged slice 1 (3-5) holds 2 of 3, slice 2 (6-8) holds 1 of 3.
    assert masks["venoussystem"][:, 0, 0].tolist() == [False, True, False, False]


@pytest.mark.parametrize("z_step", [1.6, -1.6])
def test_crops_remove_the_lowest_or_the_highest_slices(z_step):
    vol, refs = _volume(z_step)
    z = vol.grid.index_to_lps([[i, 0, 0] for i in range(12)])[:, 2]
    low, masks = ep.MAKERS["crop_low25"](vol, refs)
    high, _ = ep.MAKERS["crop_high20"](vol, refs)
    kept_low = low.grid.index_to_lps([[i, 0, 0] for i in range(low.shape[0])])[:, 2]
    kept_high = high.grid.index_to_lps([[i, 0, 0] for i in range(high.shape[0])])[:, 2]
    assert low.shape[0] == 9 and kept_low.min() == pytest.approx(np.sort(z)[3])
    assert high.shape[0] == 10 and kept_high.max() == pytest.approx(np.sort(z)[-3])
    assert masks["venoussystem"].shape == low.shape  # the reference cropped the same way


def test_noise_has_the_stated_sd_and_is_the_same_every_run():
    vol, refs = _volume(1.6)
    a, masks = ep.MAKERS["noise15"](vol, refs)
    b, _ = ep.MAKERS["noise15"](vol, refs)
    diff = a.array.astype(float) - vol.array
    assert np.array_equal(a.array, b.array) and masks is refs
    assert diff.std() == pytest.approx(ep.NOISE_HU, rel=0.15)
