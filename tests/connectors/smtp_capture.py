"""A real SMTP server (aiosmtpd) for the email tests: saves every message it accepts as
NNNN.eml in a directory, refuses recipients starting with "nobody@" with 550 and those
starting with "later@" with 451."""
import os
import sys
import time

from aiosmtpd.controller import Controller


class Capture:
    def __init__(self, outdir):
        self.outdir = outdir

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("nobody@"):
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        if address.startswith("later@"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        n = len(os.listdir(self.outdir))
        tmp = os.path.join(self.outdir, ".%04d.tmp" % n)
        with open(tmp, "wb") as f:
            f.write(b"X-Envelope-From: " + envelope.mail_from.encode() + b"\r\n")
            f.write(b"X-Envelope-To: " + ",".join(envelope.rcpt_tos).encode() + b"\r\n")
            f.write(envelope.original_content)
        os.rename(tmp, os.path.join(self.outdir, "%04d.eml" % n))
        return "250 2.0.0 Ok: queued"


def main():
    port, outdir = int(sys.argv[1]), sys.argv[2]
    controller = Controller(Capture(outdir), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
