"""Settings read from the environment, with safe defaults for development on SQLite."""

import datetime
import os

BASE_DIR = os.path.abspath(os.path.dirname(__file__))
INSTANCE_DIR = os.environ.get("ZONGZHI_INSTANCE", os.path.join(BASE_DIR, "instance"))


def env_flag(name, default):
    """A boolean from the environment: 1/true/yes/on are true."""
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def database_url():
    """The SQLAlchemy URL: DATABASE_URL, or SQLite in the instance folder."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        return "sqlite:///" + os.path.join(INSTANCE_DIR, "zongzhi.db")
    # Accept the short forms that hosting panels hand out.
    if url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url[len("postgres://") :]
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    elif url.startswith("mysql://") or url.startswith("mariadb://"):
        url = "mysql+pymysql://" + url.split("://", 1)[1]
    return url


class Config:
    """Settings for every environment; production overrides come from the environment."""

    APP_NAME = "综治中心管理平台"
    APP_THEME = ""
    APP_ICON = ""
    # None: the factory reads or creates a development secret in the instance folder.
    SECRET_KEY = os.environ.get("SECRET_KEY")
    SQLALCHEMY_DATABASE_URI = database_url()
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    SQLALCHEMY_ENGINE_OPTIONS = {
        "pool_pre_ping": True,
        # The most recently used connection first: it holds the prepared statements
        # (PostgreSQL) and warm caches; spare connections idle out instead.
        "pool_use_lifo": True,
        # A failed statement's values (a secret, personal data) never reach the log.
        "hide_parameters": True,
        "pool_size": int(os.environ.get("DB_POOL_SIZE", "5")),
        "max_overflow": int(os.environ.get("DB_MAX_OVERFLOW", "5")),
    }
    WTF_CSRF_ENABLED = True
    WTF_CSRF_TIME_LIMIT = None

    # Flask-AppBuilder
    AUTH_TYPE = 1  # database authentication
    AUTH_ROLE_ADMIN = "admin"
    AUTH_ROLE_PUBLIC = "Public"
    AUTH_USER_REGISTRATION = False
    # The schema comes from migrations only, and permissions are written by `flask roles sync`
    # at deploy time, not by every worker at start-up.
    FAB_CREATE_DB = False
    FAB_UPDATE_PERMS = env_flag("FAB_UPDATE_PERMS", False)
    FAB_ADD_SECURITY_API = False
    # Roles are declared in code (app/roles.py) and shown in words on the role overview: the
    # screens listing raw permission and view names are not registered.
    FAB_ADD_SECURITY_PERMISSION_VIEW = False
    FAB_ADD_SECURITY_VIEW_MENU_VIEW = False
    FAB_ADD_SECURITY_PERMISSION_VIEWS_VIEW = False
    FAB_API_SWAGGER_UI = False
    FAB_INDEX_VIEW = "app.views.HomeView"
    FAB_SECURITY_MANAGER_CLASS = "app.security.ZongzhiSecurityManager"
    FAB_BASE_TEMPLATE = "zongzhi/baselayout.html"

    # Languages: Simplified Chinese first and by default, English switchable.
    BABEL_DEFAULT_LOCALE = "zh"
    # The business time zone: what "today", a month and a deadline mean, what is stored and
    # shown, whatever the server's own TZ (app/clock.py).
    ZONGZHI_TIMEZONE = os.environ.get("ZONGZHI_TIMEZONE", "Asia/Shanghai")
    BABEL_DEFAULT_TIMEZONE = ZONGZHI_TIMEZONE
    LANGUAGES = {
        "zh": {"flag": "cn", "name": "简体中文"},
        "en": {"flag": "gb", "name": "英文"},
    }

    # A new case sharing a party with an open case, or one registered this many months ago, is
    # flagged as a repeat dispute.
    REPEAT_MONTHS = int(os.environ.get("REPEAT_MONTHS", "12"))

    # Lists: the page size offered and the most a URL may ask for.
    PAGE_SIZE = 25
    MAX_PAGE_SIZE = 100

    # Accounts (MLPS 2.0 level 3 practice): lockout, idle timeout, password policy, throttling.
    LOCKOUT_FAILURES = int(os.environ.get("LOCKOUT_FAILURES", "5"))
    LOCKOUT_MINUTES = int(os.environ.get("LOCKOUT_MINUTES", "15"))
    IDLE_TIMEOUT_MINUTES = int(os.environ.get("IDLE_TIMEOUT_MINUTES", "30"))
    PERMANENT_SESSION_LIFETIME = datetime.timedelta(minutes=IDLE_TIMEOUT_MINUTES)
    # The cookie's expiry is renewed when the session check records activity (every 30 s at
    # most), not signed afresh on every response.
    SESSION_REFRESH_EACH_REQUEST = False
    FAB_PASSWORD_COMPLEXITY_ENABLED = True
    # Sign-in attempts per client address, counted in Redis when REDIS_URL is set (shared by every
    # worker and host), in memory otherwise (the single-process default).
    AUTH_RATE_LIMITED = env_flag("AUTH_RATE_LIMITED", True)
    AUTH_RATE_LIMIT = os.environ.get("AUTH_RATE_LIMIT", "20 per 5 minutes")
    RATELIMIT_STORAGE_URI = os.environ.get("REDIS_URL", "memory://")
    RATELIMIT_ENABLED = AUTH_RATE_LIMITED

    # The shared cache (app/caches.py: what is kept, under which token, what empties it): in
    # Redis when REDIS_URL is set (shared by all workers and hosts), else in files under the
    # instance folder (shared by the workers of one host, the SQLite set-up).
    CACHE_TYPE = "RedisCache" if os.environ.get("REDIS_URL") else "FileSystemCache"
    CACHE_REDIS_URL = os.environ.get("REDIS_URL")
    CACHE_DIR = os.environ.get("CACHE_DIR", os.path.join(INSTANCE_DIR, "cache"))
    CACHE_THRESHOLD = 20000
    CACHE_DEFAULT_TIMEOUT = int(os.environ.get("PAGE_PART_CACHE_SECONDS", "3600"))
    # The longest each kind of cached value lives, in seconds, even when nothing it was made
    # from changes (a committed change drops it at once).
    STATS_CACHE_SECONDS = int(os.environ.get("STATS_CACHE_SECONDS", "60"))
    COUNT_CACHE_SECONDS = int(os.environ.get("COUNT_CACHE_SECONDS", "300"))
    MENU_CACHE_SECONDS = int(os.environ.get("MENU_CACHE_SECONDS", "3600"))
    SCOPE_CACHE_SECONDS = int(os.environ.get("SCOPE_CACHE_SECONDS", "3600"))
    SEARCH_PROBE_SECONDS = int(os.environ.get("SEARCH_PROBE_SECONDS", "60"))
    # Deployments (or databases) that share one cache need prefixes of their own.
    CACHE_KEY_PREFIX = os.environ.get("CACHE_KEY_PREFIX", "zongzhi:")

    # PDF statistics: the most case rows in the register appendix, and the longest a render may
    # take before it is refused with a message.
    REPORT_MAX_ROWS = int(os.environ.get("REPORT_MAX_ROWS", "2000"))
    # The most rows one list export (Excel or CSV) may hold: 100,000 cases write in about 10 s
    # in constant memory, inside the workers' 60 s timeout (bench/export.py measures it).
    EXPORT_MAX_ROWS = int(os.environ.get("EXPORT_MAX_ROWS", "100000"))
    # A larger list is exported by the job queue's worker (up to EXPORT_QUEUE_MAX_ROWS), and
    # the file offered in the message centre when it is ready.
    EXPORT_QUEUE_MAX_ROWS = int(os.environ.get("EXPORT_QUEUE_MAX_ROWS", "2000000"))
    # Imports: the largest file and the most rows one may hold, and how long an uploaded file
    # waits (in the instance folder) for its preview to be confirmed.
    IMPORT_MAX_BYTES = int(os.environ.get("IMPORT_MAX_BYTES", str(5 * 1024 * 1024)))
    IMPORT_MAX_ROWS = int(os.environ.get("IMPORT_MAX_ROWS", "10000"))
    IMPORT_PREVIEW_MINUTES = int(os.environ.get("IMPORT_PREVIEW_MINUTES", "30"))
    # Evidence files a case receives: the largest one, and how many a case may hold.
    ATTACHMENT_MAX_BYTES = int(os.environ.get("ATTACHMENT_MAX_BYTES", str(10 * 1024 * 1024)))
    ATTACHMENT_MAX_PER_CASE = int(os.environ.get("ATTACHMENT_MAX_PER_CASE", "50"))
    # Issued documents and attachments, outside the web root (default: instance/files).
    FILE_STORAGE_DIR = os.environ.get("FILE_STORAGE_DIR")
    # Or an S3-compatible object store (MinIO…), shared by every host, when a bucket is named.
    S3_BUCKET = os.environ.get("S3_BUCKET")
    S3_ENDPOINT_URL = os.environ.get("S3_ENDPOINT_URL")
    S3_ACCESS_KEY = os.environ.get("S3_ACCESS_KEY")
    S3_SECRET_KEY = os.environ.get("S3_SECRET_KEY")
    S3_REGION = os.environ.get("S3_REGION", "us-east-1")
    # No request may be larger than the largest file one may carry, and its form.
    MAX_CONTENT_LENGTH = max(IMPORT_MAX_BYTES, ATTACHMENT_MAX_BYTES) + 64 * 1024
    REPORT_MAX_SECONDS = int(os.environ.get("REPORT_MAX_SECONDS", "30"))

    # How many reverse proxies (nginx…) stand in front of the app: their X-Forwarded-For and
    # X-Forwarded-Proto are then believed for the client's address (audit, sign-in throttling)
    # and the scheme. 0: none, the connection's own address counts.
    PROXY_COUNT = int(os.environ.get("PROXY_COUNT", "0"))
    # The host names the app answers to (comma-separated in ZONGZHI_HOSTS; the port does not
    # matter). A request naming another host in its Host header is refused (400), and redirects
    # after sign-in go only to these hosts: nothing is built from a Host header an outsider
    # chose. Add the name or address people type, e.g. ZONGZHI_HOSTS=zongzhi.example.gov.cn.
    PUBLIC_HOSTS = [h.strip() for h in os.environ.get("ZONGZHI_HOSTS", "localhost,127.0.0.1")
                    .split(",") if h.strip()]
    TRUSTED_HOSTS = PUBLIC_HOSTS
    FAB_SAFE_REDIRECT_HOSTS = [pattern for host in PUBLIC_HOSTS
                               for pattern in (host, f"{host}:*")]

    # Deadline warnings (app/notices.py): how long before a report-in, answer, acceptance or
    # handling deadline people are warned (hours, comma-separated; one more message when it is
    # reached), and how long after it a deadline the scan had not yet seen still gets one.
    NOTICE_LEAD_HOURS = [float(h) for h in os.environ.get("NOTICE_LEAD_HOURS", "24,2").split(",")
                         if h.strip()]
    NOTICE_REACHED_GRACE_HOURS = float(os.environ.get("NOTICE_REACHED_GRACE_HOURS", "24"))
    # Messages read longer ago than this are forgotten (app.jobs.prune_job_runs, hourly).
    NOTICE_KEEP_DAYS = int(os.environ.get("NOTICE_KEEP_DAYS", "365"))
    # Text messages and e-mails besides the message centre (app/gateways.py): "log" writes them
    # to the log (the default); "http" posts each text message to SMS_GATEWAY_URL as JSON
    # {"phone", "text"} with SMS_GATEWAY_TOKEN as a bearer token; "smtp" sends e-mail through
    # MAIL_SERVER.
    SMS_GATEWAY = os.environ.get("SMS_GATEWAY", "log")
    SMS_GATEWAY_URL = os.environ.get("SMS_GATEWAY_URL")
    SMS_GATEWAY_TOKEN = os.environ.get("SMS_GATEWAY_TOKEN")
    SMS_GATEWAY_TIMEOUT = float(os.environ.get("SMS_GATEWAY_TIMEOUT", "10"))
    EMAIL_GATEWAY = os.environ.get("EMAIL_GATEWAY", "log")
    MAIL_SERVER = os.environ.get("MAIL_SERVER", "localhost")
    MAIL_PORT = int(os.environ.get("MAIL_PORT", "25"))
    MAIL_USE_TLS = env_flag("MAIL_USE_TLS", False)
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD")
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "zongzhi@localhost")

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = env_flag("SESSION_COOKIE_SECURE", False)


class TestConfig(Config):
    """Settings for the test suite: its own database, no CSRF tokens to juggle."""

    TESTING = True
    QUEUE_WEBHOOKS = False  # the tests deliver by calling app.webhooks themselves
    WTF_CSRF_ENABLED = False
    AUTH_RATE_LIMITED = False
    RATELIMIT_ENABLED = False
    SECRET_KEY = "test-secret-not-for-production"
    CACHE_TYPE = "SimpleCache"
