"""Ctrl-C is recorded by the handler and raised once, at the next checkpoint."""

from __future__ import annotations

import signal

import pytest

from dnsctl import interrupt


def test_checkpoint_raises_once_after_a_request():
    interrupt.checkpoint()  # nothing requested: nothing happens
    interrupt.request(signal.SIGINT, None)
    with pytest.raises(KeyboardInterrupt):
        interrupt.checkpoint()
    interrupt.checkpoint()  # clean-up after the interrupt runs normally
