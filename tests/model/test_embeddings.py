"""Tests of the interface embedding, readout, the time token and the class token."""

from __future__ import annotations

import pytest
import torch

from rin.model.embeddings import ClassToken, PatchEmbed, Readout, TimeToken, sinusoidal_features


def _hand_built_patches(x: torch.Tensor, p: int) -> torch.Tensor:
    """Token r * grid + c holds rows r*p.., cols c*p.. of x, flattened as (row, col, channel)."""
    grid = x.shape[-1] // p
    tokens = [x[:, :, r * p : (r + 1) * p, c * p : (c + 1) * p].permute(0, 2, 3, 1).flatten(1)
              for r in range(grid) for c in range(grid)]  # fmt: skip
    return torch.stack(tokens, dim=1)  # (B, N, p*p*C)


def test_patch_embed_and_readout_follow_the_hand_built_patch_order():
    """With identity projections, patch embedding gives the hand-built patches and readout inverts them."""
    p, c, size = 4, 3, 16
    dim = p * p * c
    embed, readout = PatchEmbed(size, c, p, dim), Readout(size, c, p, dim)
    x = torch.randn(2, c, size, size)
    patches = _hand_built_patches(x, p)
    with torch.no_grad():
        for module in (embed, readout):
            module.proj.weight.copy_(torch.eye(dim))
            module.proj.bias.zero_()
        embed.pos.zero_()
    embed.norm = readout.norm = torch.nn.Identity()  # type: ignore[assignment]
    assert torch.equal(embed(x), patches)
    torch.testing.assert_close(readout(patches), x)


def test_sinusoidal_features_closed_form():
    """Features are [sin(s w_k), cos(s w_k)] with w_k = 10000^(-2k/dim)."""
    s = torch.tensor([0.0, 500.0])
    f = sinusoidal_features(s, 8)
    w = torch.tensor([10000.0 ** (-2 * k / 8) for k in range(4)])
    torch.testing.assert_close(f[1], torch.cat([(500 * w).sin(), (500 * w).cos()]))
    torch.testing.assert_close(f[0], torch.cat([torch.zeros(4), torch.ones(4)]))


def test_time_token_is_one_token_of_latent_width():
    """gamma (B,) becomes one (B, 1, d_z) token, different for different gamma."""
    token = TimeToken(64, 1000.0)
    out = token(torch.tensor([0.1, 0.9]))
    assert out.shape == (2, 1, 64)
    assert not torch.allclose(out[0], out[1])


def test_sin_cos_positions_are_distinct_and_fixed():
    """sin_cos_plus_learned adds a fixed table whose rows differ for every patch position."""
    from rin.model.embeddings import sin_cos_2d

    table = sin_cos_2d(4, 16)
    assert table.shape == (16, 16)
    assert torch.cdist(table, table).add(torch.eye(16)).min() > 0.1
    embed = PatchEmbed(16, 1, 4, 16, pos_encoding="sin_cos_plus_learned")
    assert "fixed_pos" not in embed.state_dict()  # not a weight: rebuilt from the config
    torch.testing.assert_close(embed.fixed_pos, table)


def test_null_label_is_the_all_zero_class_code():
    """Label -1 (no label) gives the same token as labels=None: the bias of the class projection."""
    token = ClassToken(10, 16)
    mixed = token(torch.tensor([3, -1, 7]), 3)  # (3, 1, 16)
    none = token(None, 3)
    torch.testing.assert_close(mixed[1], none[1])
    torch.testing.assert_close(none[0, 0], token.proj.bias)
    assert not torch.allclose(mixed[0], none[0])


@pytest.mark.parametrize("bad", [[10], [-2], [0, 11]])
def test_out_of_range_labels_give_one_line_error(bad):
    """Labels outside [0, K) and other than -1 are refused with a one-line message."""
    with pytest.raises(ValueError, match=r"labels must be in \[0, 10\)") as info:
        ClassToken(10, 16)(torch.tensor(bad), len(bad))
    assert "\n" not in str(info.value)
