"""Alert e-mails as the stack's SMTP server keeps them (a maildir), for the tests that expect one."""

from __future__ import annotations

import mailbox
import time


def new_messages(maildir: mailbox.Maildir, before: set[str], *, timeout: float = 30, where=None) -> list:
    """The messages that arrived since ``before`` (the maildir's keys then) and satisfy ``where`` (if
    given), waiting up to ``timeout`` for one."""
    deadline = time.monotonic() + timeout
    while True:
        found = [message for message in (maildir[key] for key in set(maildir.keys()) - before)
                 if where is None or where(message)]
        if found or time.monotonic() >= deadline:
            return found
        time.sleep(0.5)


def subject_starts(prefix: str):
    """A ``where`` for :func:`new_messages`: the stack's SMTP server also keeps the mails of whatever else
    its scheduler runs meanwhile (a scheduled report, a health check), so a test counts only its own."""
    return lambda message: message["Subject"].startswith(prefix)


def body_of(message) -> str:
    return message.get_payload(0).get_payload(decode=True).decode() if message.is_multipart() else message.get_payload()
