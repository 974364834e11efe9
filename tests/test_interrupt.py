"""Ctrl-C, SIGTERM and SIGHUP are recorded by the handler and raised once, at the next
checkpoint outside a clean-up."""

from __future__ import annotations

import os
import signal

import pytest

from dnsctl import interrupt


def test_checkpoint_raises_once_after_a_request():
    interrupt.checkpoint()  # nothing requested: nothing happens
    interrupt.request(signal.SIGINT, None)
    with pytest.raises(KeyboardInterrupt):
        interrupt.checkpoint()
    interrupt.checkpoint()  # clean-up after the interrupt runs normally


def test_a_request_during_a_shield_waits_for_its_end(capfd):
    with interrupt.shield("finishing the rollback"):
        interrupt.request(signal.SIGTERM, None)
        interrupt.request(signal.SIGINT, None)  # a second one changes nothing
        interrupt.checkpoint()
        with interrupt.shield("finishing the restore"):
            interrupt.checkpoint()
        interrupt.checkpoint()
    assert "SIGINT received; finishing the rollback first" in capfd.readouterr().err
    with pytest.raises(KeyboardInterrupt):
        interrupt.checkpoint()
    interrupt.checkpoint()


def test_a_shield_ends_also_when_its_body_fails():
    with pytest.raises(RuntimeError), interrupt.shield("finishing the rollback"):
        raise RuntimeError("rollback failed")
    interrupt.request(signal.SIGINT, None)
    with pytest.raises(KeyboardInterrupt):
        interrupt.checkpoint()


def test_sighup_is_a_stop_request_like_sigterm():
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        interrupt.install()
        os.kill(os.getpid(), signal.SIGHUP)  # the terminal closed: no exit, a request
        with pytest.raises(KeyboardInterrupt):
            interrupt.checkpoint()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
