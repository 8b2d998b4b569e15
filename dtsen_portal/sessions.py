"""Database sessions that refuse a forged session key before it reaches the database.

The portal makes session keys of 32 lowercase letters and digits. A cookie carrying anything else (a NUL
byte, say, which PostgreSQL cannot hold in a text parameter) came from outside: it is treated as no session,
never looked up, so it cannot turn a page into a server error.
"""
from django.contrib.sessions.backends import db


class SessionStore(db.SessionStore):
    def _validate_session_key(self, key):
        return bool(super()._validate_session_key(key)) and key.isascii() and key.isalnum()
