"""Alert e-mails as the stack's SMTP server keeps them (a maildir), for the tests that expect one."""

from __future__ import annotations

import mailbox
import time


def new_messages(maildir: mailbox.Maildir, before: set[str], *, timeout: float = 30) -> list:
    """The messages that arrived since ``before`` (the maildir's keys then), waiting up to ``timeout`` for one."""
    deadline = time.monotonic() + timeout
    while not (new := set(maildir.keys()) - before) and time.monotonic() < deadline:
        time.sleep(0.5)
    return [maildir[key] for key in new]


def body_of(message) -> str:
    return message.get_payload(0).get_payload(decode=True).decode() if message.is_multipart() else message.get_payload()
