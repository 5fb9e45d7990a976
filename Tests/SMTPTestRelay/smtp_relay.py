#!/usr/bin/python3
"""A real SMTP relay for eticket's tests: aiosmtpd with STARTTLS (or implicit TLS) and AUTH.

It writes, in --dir:
  port            the port it listens on, once it accepts connections;
  events.log      one line per step a client reached: EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA-END,
                  ACCEPTED <message-id>; the tests wait on these lines (never on durations);
  received.jsonl  one JSON object per message it answered 250: message_id, mail_from, rcpt_tos,
                  subject, defects (Python's email parser, policy=default), parts.

Behaviours, for the failures the sender must survive:
  --defer-first N        the end of the first N DATA answered 451 4.3.0 (then 250);
  --reject-rcpt ADDRESS  RCPT TO that address answered 550 5.1.1;
  --cut-data N           the Nth DATA (1-based) cut: 354, a line of the body read, connection closed;
  --silent-data-end N    the Nth end of DATA never answered (the client's timeout must fire);
  --black-hole           accepts TCP connections and never says a word;
  --no-parse             records only the Message-ID (for the benchmark: the parser costs the relay
                         more than the sender spends on a message).
"""
import argparse
import asyncio
import email
import email.policy
import json
import os
import re
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--tls", choices=["starttls", "tls", "none"], default="starttls")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--defer-first", type=int, default=0)
    parser.add_argument("--reject-rcpt", action="append", default=[])
    parser.add_argument("--cut-data", type=int, default=0)
    parser.add_argument("--silent-data-end", type=int, default=0)
    parser.add_argument("--black-hole", action="store_true")
    parser.add_argument("--no-parse", action="store_true")
    # The SIZE the relay announces in EHLO and enforces (aiosmtpd's default: 32 MiB).
    parser.add_argument("--size-limit", type=int, default=33554432)
    options = parser.parse_args()
    asyncio.run(serve(options))


class Relay:
    """The aiosmtpd handler: records what arrives, answers as the behaviours say."""

    def __init__(self, options):
        self.options = options
        self.data_ends = 0
        self.data_starts = 0
        self.events = open(os.path.join(options.dir, "events.log"), "a", buffering=1)
        self.received = open(os.path.join(options.dir, "received.jsonl"), "a", buffering=1)

    def event(self, line):
        self.events.write(line + "\n")
        self.events.flush()

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.event("EHLO")
        session.host_name = hostname
        return responses

    async def handle_STARTTLS(self, server, session, envelope):
        self.event("STARTTLS")
        return True

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.event("MAIL")
        for option in mail_options:
            self.event("MAIL-OPTION " + option)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.event("RCPT")
        if address in self.options.reject_rcpt:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        self.data_ends += 1
        self.event("DATA-END")
        if self.data_ends == self.options.silent_data_end:
            self.event("SILENT")
            await asyncio.sleep(3600)
        if self.data_ends <= self.options.defer_first:
            return "451 4.3.0 try again later"
        if self.options.no_parse:
            found = re.search(rb"(?im)^message-id:\s*(\S+)", envelope.original_content)
            record = {"message_id": found.group(1).decode() if found else "", "mail_from": envelope.mail_from,
                      "rcpt_tos": envelope.rcpt_tos, "subject": "", "defects": [], "parts": []}
        else:
            message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
            defects = [type(d).__name__ for part in message.walk() for d in part.defects]
            record = {
                "message_id": str(message.get("Message-ID", "")),
                "mail_from": envelope.mail_from,
                "rcpt_tos": envelope.rcpt_tos,
                "subject": str(message.get("Subject", "")),
                "defects": defects,
                "parts": [part.get_content_type() for part in message.walk()],
            }
        self.received.write(json.dumps(record) + "\n")
        self.received.flush()
        self.event("ACCEPTED " + record["message_id"])
        return "250 2.0.0 OK queued as %d" % self.data_ends


class CuttingSMTP(SMTP):
    """aiosmtpd's server, with a DATA that can be cut in the middle."""

    async def smtp_DATA(self, arg):
        relay = self.event_handler
        relay.data_starts += 1
        if relay.data_starts == relay.options.cut_data and self.envelope.rcpt_tos:
            relay.event("CUT")
            await self.push("354 End data with <CR><LF>.<CR><LF>")
            await self._reader.readline()
            self.transport.close()
            return
        return await super().smtp_DATA(arg)


def authenticator(options):
    def check(server, session, envelope, mechanism, auth_data):
        server.event_handler.event("AUTH " + mechanism)
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == options.user
            and auth_data.password.decode() == options.password
        )
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535

    return check


async def black_hole(reader, writer):
    await asyncio.sleep(3600)


async def serve(options):
    loop = asyncio.get_running_loop()
    context = None
    if options.cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(options.cert, options.key)
    if options.black_hole:
        server = await asyncio.start_server(black_hole, options.host, 0)
    else:
        relay = Relay(options)
        auth = dict(authenticator=authenticator(options), auth_required=True) if options.user else {}

        def factory():
            return CuttingSMTP(
                relay,
                decode_data=False,
                hostname="relay.test",
                data_size_limit=options.size_limit,
                tls_context=context if options.tls == "starttls" else None,
                require_starttls=options.tls == "starttls",
                # Implicit TLS is invisible to aiosmtpd: it would not offer AUTH there if TLS were required.
                auth_require_tls=options.tls == "starttls",
                **auth,
            )

        server = await loop.create_server(
            factory, options.host, 0, ssl=context if options.tls == "tls" else None
        )
    port = server.sockets[0].getsockname()[1]
    temporary = os.path.join(options.dir, "port.tmp")
    with open(temporary, "w") as f:
        f.write(str(port))
    os.rename(temporary, os.path.join(options.dir, "port"))
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    main()
