"""The local SMTP sink: an aiosmtpd server storing mail in a Maildir, with a web view at /mail."""
