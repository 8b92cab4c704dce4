"""A second sandbox's port block: free now, away from the one it must not collide with."""

from __future__ import annotations

import socket

from helm_enterprise.sandbox import _paths


def test_a_taken_port_makes_its_whole_block_unusable() -> None:
    base = _paths.free_port_base()
    assert base is not None and _paths.block_is_free(base)
    with socket.socket() as s:
        s.bind(("127.0.0.1", base + _paths.PORT_SPAN - 1))  # the block's last port
        assert not _paths.block_is_free(base)
        again = _paths.free_port_base()
        assert again is not None and again != base


def test_the_block_to_avoid_is_never_chosen_and_the_ends_differ() -> None:
    low = _paths.free_port_base()
    high = _paths.free_port_base(from_top=True)
    assert low is not None and high is not None and low < high
    assert high + _paths.PORT_SPAN <= _paths.ephemeral_range()[0]
    avoid = range(low + 10, low + 20)  # overlaps low's block
    other = _paths.free_port_base(avoid=avoid)
    assert other is not None and not (other <= avoid.start < other + _paths.PORT_SPAN)
