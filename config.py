"""Configuration from the environment. `create_app(config)` may override any key (tests do)."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent
DEV_SECRET = "dev-only-secret-change-me"


def database_url(url: str | None = None) -> str:
    """The SQLAlchemy URL: a plain postgresql:// URL is mapped to psycopg 3."""
    url = url or os.environ.get("DATABASE_URL") or f"sqlite:///{ROOT / 'instance' / 'aixin.db'}"
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////") and url != "sqlite:///:memory:":
        # Relative SQLite paths are relative to the repository, wherever the command runs from.
        url = f"sqlite:///{ROOT / url[len('sqlite:///') :]}"
    return url


class Config:
    ENV = os.environ.get("AIXIN_ENV", "development")  # development | production | test
    SECRET_KEY = os.environ.get("SECRET_KEY", DEV_SECRET)
    DATABASE_URL = database_url()
    REDIS_URL = os.environ.get("REDIS_URL")  # rate-limit storage; memory when unset
    # Keys for the keyed hash of ID numbers and for QR tokens derive from SECRET_KEY unless set.
    ID_HASH_KEY = os.environ.get("ID_HASH_KEY")
    QR_TOKEN_KEY = os.environ.get("QR_TOKEN_KEY")  # keeps printed member cards valid across SECRET_KEY changes
    # Server-side session limits (OWASP ASVS 4.0 §3.3.2, level 2: re-authenticate after 30 minutes
    # idle or 12 hours in any case). Checked on the user_sessions row at every request.
    SESSION_IDLE_MINUTES = int(os.environ.get("AIXIN_SESSION_IDLE_MINUTES", "30"))
    SESSION_LIFETIME_HOURS = int(os.environ.get("AIXIN_SESSION_LIFETIME_HOURS", "12"))
    # How long a one-time link to set a password (invitation or reset) stays usable.
    INVITATION_HOURS = int(os.environ.get("AIXIN_INVITATION_HOURS", "72"))
    # The address printed in links made outside a request (`flask auth invite`).
    BASE_URL = os.environ.get("AIXIN_BASE_URL", "http://127.0.0.1:5000")
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = ENV == "production"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = ENV == "production"
    BABEL_DEFAULT_LOCALE = "zh_Hans_CN"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    BABEL_TRANSLATION_DIRECTORIES = str(ROOT / "translations")
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
    RATELIMIT_HEADERS_ENABLED = True
    # How many reverse proxies in front of the app set X-Forwarded-For/-Proto/-Host (README, "Behind a
    # reverse proxy"). 0 trusts none of those headers: a client could otherwise forge its address.
    PROXY_HOPS = int(os.environ.get("AIXIN_PROXY_HOPS", "0"))
    MAX_CONTENT_LENGTH = 20 * 1024 * 1024  # member imports up to 20 MB
    # Where grid report photos are kept (files named by content); empty: instance/uploads.
    UPLOAD_DIR = os.environ.get("AIXIN_UPLOAD_DIR") or None

    @classmethod
    def as_dict(cls) -> dict:
        return {k: getattr(cls, k) for k in dir(cls) if k.isupper()}
