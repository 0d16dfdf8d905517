"""A local SMTP server (aiosmtpd) that keeps every alert the pipeline sends in a maildir."""

from __future__ import annotations

import smtplib

from logstream.stack.service import Health, Service


class Mail(Service):
    name = "mail"
    port_names = ("smtp",)
    start_timeout = 30.0

    @property
    def maildir(self):
        return self.data_dir / "maildir"

    def launch(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            self.config.python, "-m", "aiosmtpd", "-n",
            "-l", f"{self.config.host}:{self.port('smtp')}",
            "-c", "aiosmtpd.handlers.Mailbox", str(self.maildir),
        ]
        self.process.start(argv)

    def health(self) -> Health:
        try:
            with smtplib.SMTP(self.config.host, self.port("smtp"), timeout=2) as smtp:
                code, _ = smtp.noop()
        except OSError as err:
            return Health(False, f"no SMTP answer on {self.port('smtp')}: {err}")
        return Health(code == 250, f"SMTP on {self.config.host}:{self.port('smtp')}, mail kept in {self.maildir}")
