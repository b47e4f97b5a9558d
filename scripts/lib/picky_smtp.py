"""A real SMTP server (aiosmtpd) with the failures the tests need.

It stores what it accepts in a Maildir, exactly like aiosmtpd's own
``Mailbox`` handler, and in addition:

* refuses recipients whose local part starts with ``nobody`` with
  ``550 5.1.1`` (a permanent rejection, as a real server does for an unknown
  mailbox);
* answers the first DATA of each message for a recipient whose local part
  starts with ``slow`` only after ``PICKY_SLOW_SECONDS`` seconds (default 3):
  a server that is slow once, so a client's time-out fires while the server
  still goes on to accept the message.

Started by scripts/lib/aiosmtpd.sh as
``python3 -m aiosmtpd -n -l HOST:PORT -c picky_smtp.Picky MAILDIR``.
"""

import asyncio
import email
import os

from aiosmtpd.handlers import Mailbox


def _local(address):
    return address.split("@", 1)[0].lower()


class Picky(Mailbox):
    def __init__(self, mail_dir, message_class=None):
        super().__init__(mail_dir, message_class)
        self.slowed = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if _local(address).startswith("nobody"):
            return "550 5.1.1 <%s>: no such mailbox here" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if any(_local(r).startswith("slow") for r in envelope.rcpt_tos):
            data = envelope.content
            if isinstance(data, str):
                data = data.encode()
            key = email.message_from_bytes(data).get("Message-ID", "")
            if key not in self.slowed:
                self.slowed.add(key)
                await asyncio.sleep(float(os.environ.get("PICKY_SLOW_SECONDS", "3")))
        return await super().handle_DATA(server, session, envelope)
