"""One run of a command: the report, -v logging and the signal handlers it starts with, the
consent a change needs (--yes, or a yes on a terminal), and every error mapped to its lines
and its exit code: `run_op` wraps the commands on hosts, `run_lab` the lab's.
"""

from __future__ import annotations

import functools
import gc
import logging
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

import click

from dnsctl import interrupt, ops, secrets
from dnsctl.cli.options import GlobalOptions, global_options_of
from dnsctl.errors import Aborted, DnsctlError, UsageError
from dnsctl.report import LiveLine, Report


class _LogLine(logging.Handler):
    """-v logging on stderr that does not run into the live line, with every secret hidden."""

    def __init__(self, report: Report) -> None:
        super().__init__()
        self.report = report
        self.setFormatter(logging.Formatter("dnsctl: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        with self.report.paused():
            sys.stderr.write(secrets.mask(self.format(record)) + "\n")
            sys.stderr.flush()


def _begin(ctx: click.Context, command: str) -> tuple[GlobalOptions, Report]:
    """Once every option is parsed: the report, logging and the signal handlers of one run."""
    options = global_options_of(ctx)
    live = LiveLine(sys.stderr) if _terminal() and not options.json else None
    report = Report(command, json_mode=options.json, live=live)
    logger = logging.getLogger("dnsctl")
    logger.handlers = [_LogLine(report)]
    logger.propagate = False
    logger.setLevel(logging.INFO if options.verbose else logging.WARNING)
    logging.getLogger("paramiko").setLevel(logging.CRITICAL)
    interrupt.install()
    # A run is short and keeps what it builds: a 100,000-record inventory is about a
    # million objects, and the collector's passes over them (every 700 new objects by
    # default) took 40 % of loading it. Reference counting still frees what is dropped.
    gc.set_threshold(100_000, 50, 100)
    return options, report


def _finish(ctx: click.Context, report: Report, run: Callable[[], None], *, interrupted: str) -> None:
    """Run a command body; print its report; map every error to its lines and its exit code."""
    code, error, problems = 0, None, []
    try:
        run()
    except DnsctlError as exc:
        code, error = exc.exit_code, str(exc)
        problems = list(getattr(exc, "problems", None) or error.splitlines())
    except KeyboardInterrupt:
        code, error = 130, interrupted
    except Exception as exc:  # a bug: still one line, never a traceback
        # Its text may quote a file or a host's output; a DnsctlError masks its own.
        reason = secrets.mask(str(exc))
        code, error = 70, f"internal error (a bug in dnsctl): {exc.__class__.__name__}: {reason}"
    report.emit(ok=code == 0, error=error, exit_code=code, errors=problems or None)
    if error:
        with report.paused():
            for line in error.splitlines():
                click.echo(f"dnsctl: error: {line}", err=True)
    ctx.exit(code)


def _terminal() -> bool:
    """Someone watches the output: the live line may be drawn (on stderr, beside stdout)."""
    return sys.stdout.isatty() and sys.stderr.isatty()


def _can_ask() -> bool:
    """A person is there to answer: stdin is a terminal."""
    return sys.stdin.isatty()


def _require_consent(command: str, options: GlobalOptions, kwargs: dict[str, Any]) -> None:
    """A change is made only when asked for: --yes, or an answer on a terminal (issue 8)."""
    if kwargs.get("yes") or kwargs.get("dry_run") or kwargs.get("check"):
        return
    see_plan = " (or --dry-run to only see the plan)" if "dry_run" in kwargs else ""
    if options.json:
        raise UsageError(f"{command} changes hosts and --json asks no question: pass --yes{see_plan}")
    if not _can_ask():
        raise UsageError(f"{command} changes hosts and there is no terminal to ask on: pass --yes{see_plan}")


def run_op(command: str, *, changes: bool = False) -> Callable[..., Callable[..., None]]:
    """Wrap a subcommand: load the inventory, build a session, map every error to one line.

    changes: the command changes servers or clients, so it runs only with --yes or
    after a yes on a terminal; it must then take -y/--yes.
    """

    def decorate(function: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(function)
        @click.pass_context
        def wrapper(ctx: click.Context, **kwargs: Any) -> None:
            options, report = _begin(ctx, command)

            def run() -> None:
                with ops.open_session(
                    options.inventory_path(),
                    report,
                    accept_new_host_keys=options.accept_new_host_keys,
                    forks=options.forks,
                ) as session:
                    if changes:
                        # Checked before any host is reached, after the inventory and the
                        # command's arguments: a bad argument is named first.
                        session.before_connect = lambda: _require_consent(command, options, kwargs)
                    function(session, **kwargs)

            _finish(ctx, report, run, interrupted="interrupted; nothing was left half-done")

        wrapper.changes_hosts = changes  # type: ignore[attr-defined]
        return wrapper

    return decorate


def run_lab(command: str) -> Callable[..., Callable[..., None]]:
    """Wrap a lab subcommand: it gets the lab module (imported only now) and the report."""

    def decorate(function: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(function)
        @click.pass_context
        def wrapper(ctx: click.Context, **kwargs: Any) -> None:
            from dnsctl import lab

            _, report = _begin(ctx, command)
            if kwargs.get("state_dir") is None:
                kwargs["state_dir"] = lab.DEFAULT_STATE_DIR
            _finish(
                ctx,
                report,
                lambda: function(lab, report, **kwargs),
                interrupted="interrupted; run `dnsctl lab down` to clean up",
            )

        return wrapper

    return decorate


# Hosts run in parallel: one question at a time.
_asking = threading.Lock()


def _confirm(session: ops.Session, yes: bool) -> Callable[[str], None]:
    def ask(question: str) -> None:
        if yes:
            return
        # A command not marked changes=True gets here unchecked: it still never changes unasked.
        if session.report.json_mode or not _can_ask():
            raise UsageError("refusing to change anything without --yes")
        with _asking, session.report.paused():
            answer = _ask(question)
        if not answer:
            raise Aborted("aborted; nothing was changed")

    return ask


def _ask(question: str) -> bool:
    """The question on stderr (stdout is the report's); Ctrl-C answers it at once."""
    # Elsewhere Ctrl-C only takes effect between remote commands; nothing runs during the
    # question, so it may stop it at once (signal handlers belong to the main thread).
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.default_int_handler) if main_thread else None
    try:
        return click.confirm(question, default=False, err=True)
    except click.Abort:  # Ctrl-C or end of input
        raise KeyboardInterrupt from None
    finally:
        if main_thread:
            signal.signal(signal.SIGINT, previous)


def set_options(session: ops.Session, **values: Any) -> None:
    """The session's options from the command's; without --yes a change asks first."""
    yes = values.pop("yes", False)
    session.options = ops.Options(**values, confirm=_confirm(session, yes))
