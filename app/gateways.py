"""Where text messages and e-mails go: one interface, a gateway per channel chosen in config.

`log` (the default) writes each message to the log, for a closed network with no gateway yet;
`http` posts a text message to an SMS provider's HTTP endpoint; `smtp` sends an e-mail.
"""

import json
import logging
import smtplib
import urllib.error
import urllib.request
from email.message import EmailMessage

from app import personal

log = logging.getLogger("zongzhi.notices")


class GatewayError(Exception):
    """The gateway did not take the message (worth retrying later)."""


class LogGateway:
    """Writes the message to the log instead of sending it."""

    def __init__(self, channel):
        self.channel = channel

    def send(self, address, subject, text):
        """Log one message."""
        shown = personal.mask("phone", address) if self.channel == "sms" else \
            personal.mask("text", address)
        log.info("%s to %s: %s %s", self.channel, shown, subject, text)


class HttpSmsGateway:
    """Posts {"phone", "text"} as JSON to the provider, with a bearer token when one is set."""

    channel = "sms"

    def __init__(self, url, token=None, timeout=10):
        if not url:
            raise ValueError("SMS_GATEWAY_URL is not set")
        self.url, self.token, self.timeout = url, token, timeout

    def send(self, address, subject, text):
        """Send one text message; any answer but 2xx is a failure."""
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        body = json.dumps({"phone": address, "text": text}, ensure_ascii=False).encode()
        request = urllib.request.Request(self.url, data=body, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                answer.read()
        except urllib.error.HTTPError as problem:
            raise GatewayError(f"HTTP {problem.code}") from problem
        except (OSError, ValueError) as problem:
            raise GatewayError(type(problem).__name__) from problem


class SmtpGateway:
    """Sends an e-mail through the configured mail server."""

    channel = "email"

    def __init__(self, host, port, sender, username=None, password=None, tls=False):
        self.host, self.port, self.sender = host, port, sender
        self.username, self.password, self.tls = username, password, tls

    def send(self, address, subject, text):
        """Send one e-mail."""
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.sender, address, subject
        message.set_content(text)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=10) as server:
                if self.tls:
                    server.starttls()
                if self.username:
                    server.login(self.username, self.password or "")
                server.send_message(message)
        except (OSError, smtplib.SMTPException) as problem:
            raise GatewayError(type(problem).__name__) from problem


def for_channel(config, channel):
    """The gateway config names for a channel ("sms" or "email")."""
    if channel == "sms":
        if config.get("SMS_GATEWAY") == "http":
            return HttpSmsGateway(config.get("SMS_GATEWAY_URL"), config.get("SMS_GATEWAY_TOKEN"),
                                  config.get("SMS_GATEWAY_TIMEOUT", 10))
        return LogGateway("sms")
    if config.get("EMAIL_GATEWAY") == "smtp":
        return SmtpGateway(config.get("MAIL_SERVER"), config.get("MAIL_PORT"),
                           config.get("MAIL_DEFAULT_SENDER"), config.get("MAIL_USERNAME"),
                           config.get("MAIL_PASSWORD"), config.get("MAIL_USE_TLS"))
    return LogGateway("email")
