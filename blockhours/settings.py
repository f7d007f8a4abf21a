"""Blockhours settings: one module, read from the environment (12-factor).

With no environment at all it runs on a laptop: SQLite under var/, a Celery
broker on the local filesystem, emails written to var/mail/. DATABASE_URL and
REDIS_URL switch to real servers. Every setting is documented in .env.example.
"""

import datetime
from decimal import Decimal
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv

from blockhours.env import env_bool, env_crontab, env_int, env_list, env_str, separate_test_worker_redis

BASE_DIR = Path(__file__).resolve().parent.parent
# A local .env (see .env.example) fills in what the real environment leaves unset.
load_dotenv(BASE_DIR / ".env", override=False)
separate_test_worker_redis()
VAR_DIR = Path(env_str("BLOCKHOURS_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)

# Production refuses to start without a real secret; DEBUG gets a throw-away one.
_INSECURE_DEV_KEY = "django-insecure-blockhours-development-only"
SECRET_KEY = env_str("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = _INSECURE_DEV_KEY
elif SECRET_KEY == _INSECURE_DEV_KEY and not DEBUG:
    raise ImproperlyConfigured("The development SECRET_KEY cannot be used when DEBUG is off.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
# Where the app is served: the links in emails point here. Production must
# say it; the embedded default follows the address scripts/run serves, which
# it records in var/site_url for every process (worker, beat, manage.py).
SITE_URL = env_str("SITE_URL", "")
if not SITE_URL:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SITE_URL must be set when DEBUG is off: the address emails link to, e.g. https://hours.example.com"
        )
    _served_at = VAR_DIR / "site_url"
    SITE_URL = _served_at.read_text().strip() if _served_at.exists() else "http://127.0.0.1:8000"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI assets served locally, no CDN
    "bootstrap",  # django-bootstrap-static: Bootstrap's dist files, served locally
    "axes",
    "audit",
    "accounts",
    "webhooks",
    "agreements",
    "billing",
    "ui",
    "timesheet",
    "portal",
    "dashboard",
    "payments",
    "notifications",
    "reports",
    "imports",
    "api",
    "demo",
    "monitoring",
]

MIDDLEWARE = [
    # First, so it times and counts every answer, redirects and errors included.
    "monitoring.middleware.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.PrivateResponseMiddleware",
    "accounts.middleware.StaffIdleTimeoutMiddleware",
    "accounts.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes requires: it turns a lockout into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "blockhours.urls"
WSGI_APPLICATION = "blockhours.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# SQLite "so one can just check out code and it works"; PostgreSQL in production and CI.
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'blockhours.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Take the write lock when a transaction begins and wait for it, so the web
    # server and a worker writing at once queue up instead of failing midway.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # JIT compiling costs more than it saves on this app's short queries (about 980 ms of the
    # dashboard's 1,150 ms at 10,000 clients, bench/README.md). Options the URL gives come after, so they win.
    options = DATABASES["default"].setdefault("OPTIONS", {})
    options["options"] = f"-c jit=off {options.get('options', '')}".strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Repeated failed logins are throttled by django-axes, counted twice: per
# account (from any address: one account guessed from many machines) and per
# address (for any account: one machine trying many accounts). At
# AXES_FAILURE_LIMIT failures either one is locked until AXES_COOLOFF_MINUTES
# pass without a failure; staff unlock earlier on the dashboard's lockouts
# page. The axes backend must come first.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "accounts.backends.UsernameOrEmailBackend",  # the username or the email address
]
AXES_ENABLED = env_bool("AXES_ENABLED", True)
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = datetime.timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# Not reset on a successful sign-in: axes would then forget every failure from
# that address, so an attacker could sign in to their own account now and then
# to wipe the count of the accounts they are guessing.
AXES_RESET_ON_SUCCESS = False
AXES_LOCKOUT_CALLABLE = "accounts.views.locked_out"
# Failures count against the account whichever name was typed (username or
# email, any case), so another spelling gives no extra guesses.
AXES_USERNAME_CALLABLE = "accounts.backends.lockout_username"
# A browser that signed in to an account before keeps a signed device cookie
# for DEVICE_COOKIE_DAYS; a lockout of that account caused from elsewhere
# does not refuse it (its own failures are counted apart, to the same limit).
AXES_WHITELIST_CALLABLE = "accounts.devices.device_is_trusted"
DEVICE_COOKIE_DAYS = env_int("DEVICE_COOKIE_DAYS", 180)
# Behind a proxy, the client address comes from X-Forwarded-For (see django-axes docs).
AXES_IPWARE_PROXY_COUNT = env_int("AXES_IPWARE_PROXY_COUNT", 0) or None

# Invitation links (set your own password) stop working after this many days.
INVITATION_MAX_AGE_DAYS = env_int("INVITATION_MAX_AGE_DAYS", 7)
# Password-reset links stop working after this many seconds (Django's default: 3 days).
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT", 60 * 60 * 24)
# At most this many password-reset requests per address and per email address
# in PASSWORD_RESET_WINDOW_MINUTES; beyond it nothing is sent (accounts.services).
PASSWORD_RESET_LIMIT = env_int("PASSWORD_RESET_LIMIT", 5)
PASSWORD_RESET_WINDOW_MINUTES = env_int("PASSWORD_RESET_WINDOW_MINUTES", 60)
# MSP staff are signed out after this many idle minutes (other roles keep
# Django's session age); see accounts.middleware.
STAFF_SESSION_IDLE_MINUTES = env_int("STAFF_SESSION_IDLE_MINUTES", 30)
# ... but a staff request saves the new expiry only when the last save is at
# least this old: one session write a minute instead of one per request.
STAFF_SESSION_REFRESH_SECONDS = env_int("STAFF_SESSION_REFRESH_SECONDS", 60)
# The staff dashboard's totals (hours outstanding, low, exhausted, expiring,
# charged this month, deferred revenue) scan every agreement: beat recounts
# them into the cache every this many seconds, and a page counts them only
# when the cache has none (kept twice as long, so a missed run is covered);
# 0: counted on every view. See agreements.summaries.
DASHBOARD_FIGURES_SECONDS = env_int("DASHBOARD_FIGURES_SECONDS", 60)
# Selling blocks, adjusting balances, voiding, recording payments and creating
# API tokens ask staff for their password again when they signed in (or last
# confirmed it) more than this many hours ago; see accounts.reauth.
REAUTH_AFTER_HOURS = env_int("REAUTH_AFTER_HOURS", 12)

# Bootstrap's alert classes for flash messages.
MESSAGE_TAGS = {40: "danger"}

# English and Italian. A signed-in user's own choice wins (accounts.middleware),
# then the language cookie, then the browser's Accept-Language, then this
# default, which is also the language of new clients' invoices and emails.
LANGUAGE_CODE = env_str("LANGUAGE_CODE", "en")
LANGUAGES = [("en", "English"), ("it", "Italiano")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Our date formats first ("Nov 23, 2026" / "23 nov 2026"), then Django's.
FORMAT_MODULE_PATH = ["blockhours.formats"]
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# The currency of new clients; each client carries its own.
DEFAULT_CURRENCY = env_str("DEFAULT_CURRENCY", "USD").upper()

# Invoices: tax as a percent of the subtotal (0 = no tax line), its label, and the PDF page size.
INVOICE_TAX_RATE = Decimal(env_str("INVOICE_TAX_RATE", "0"))
if not INVOICE_TAX_RATE.is_finite() or not 0 <= INVOICE_TAX_RATE <= 100:
    raise ImproperlyConfigured(f"INVOICE_TAX_RATE must be a percent between 0 and 100, got {INVOICE_TAX_RATE}")
INVOICE_TAX_LABEL = env_str("INVOICE_TAX_LABEL", "Sales tax")
INVOICE_PAGE_SIZE = env_str("INVOICE_PAGE_SIZE", "A4")
if INVOICE_PAGE_SIZE not in {"A4", "Letter"}:
    raise ImproperlyConfigured(f"INVOICE_PAGE_SIZE must be A4 or Letter, got {INVOICE_PAGE_SIZE!r}")

# Accounting exports (reports/accounting.py): the accounts and names the files
# use. QuickBooks Online names accounts, items and tax codes; Xero uses account
# codes and tax rate names. Each must exist in the MSP's chart of accounts.
ACCOUNTING = {
    "quickbooks": {
        "item": env_str("ACCOUNTING_QUICKBOOKS_ITEM", "Prepaid support hours"),  # its income account: deferred
        "deferred": env_str("ACCOUNTING_QUICKBOOKS_DEFERRED_ACCOUNT", "Deferred Revenue"),
        "revenue": env_str("ACCOUNTING_QUICKBOOKS_REVENUE_ACCOUNT", "Services"),
        "breakage": env_str("ACCOUNTING_QUICKBOOKS_BREAKAGE_ACCOUNT", "Breakage Income"),
        "receivable": env_str("ACCOUNTING_QUICKBOOKS_RECEIVABLE_ACCOUNT", "Accounts Receivable (A/R)"),
        "tax": env_str("ACCOUNTING_QUICKBOOKS_TAX_ACCOUNT", "Sales Tax Payable"),
        "no_tax": env_str("ACCOUNTING_QUICKBOOKS_NO_TAX_CODE", "NON"),
    },
    "xero": {
        "deferred": env_str("ACCOUNTING_XERO_DEFERRED_ACCOUNT", "835"),
        "revenue": env_str("ACCOUNTING_XERO_REVENUE_ACCOUNT", "200"),
        "breakage": env_str("ACCOUNTING_XERO_BREAKAGE_ACCOUNT", "260"),
        "no_tax": env_str("ACCOUNTING_XERO_NO_TAX_RATE", "Tax Exempt"),
    },
}

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if not DEBUG
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# Email: by default every message is written to var/mail/ as a readable file.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = VAR_DIR / "mail"
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)
# Delivery of recorded emails: temporary failures (server down, 4xx) are
# retried with doubling delays up to EMAIL_RETRY_MAX_DELAY seconds; a send
# claimed but unfinished after EMAIL_STUCK_AFTER seconds is shown to staff.
# 54 attempts with delays doubling from a minute to 30 minutes span about
# 24 h 30 min, so a mail server down for a day loses nothing. The cap stays
# below the broker's visibility timeout (CELERY_VISIBILITY_TIMEOUT): a retry
# waiting longer would be handed to a second worker (a test checks).
EMAIL_MAX_ATTEMPTS = env_int("EMAIL_MAX_ATTEMPTS", 54)
EMAIL_RETRY_MAX_DELAY = env_int("EMAIL_RETRY_MAX_DELAY", 30 * 60)
EMAIL_STUCK_AFTER = env_int("EMAIL_STUCK_AFTER", 15 * 60)
# Invitations and password-reset links go through the recorded, retried
# outbox of notifications like every other email; accounts sits below
# notifications in the dependency order, so it finds the outbox by this name
# (as Django finds EMAIL_BACKEND) instead of importing it.
ACCOUNT_EMAIL_OUTBOX = "notifications.tasks.account_email_queue"
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Blockhours <billing@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# The cache holds throttle counters (password resets, API requests). Per
# process by default, so with several gunicorn workers each counts apart:
# production sets CACHE_URL to a Redis database of its own (clearing the cache
# empties that database, so never Celery's).
CACHE_URL = env_str("CACHE_URL", "")
# Short timeouts: a cache that is down costs a request a fraction of a second,
# and the rate limits that read it fail open (monitoring.failopen).
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.5},
        }
        if CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# Celery: Redis when REDIS_URL (or CELERY_BROKER_URL) is set; otherwise a broker
# on the local filesystem, so a worker and beat run with no server installed.
REDIS_URL = env_str("REDIS_URL", "")
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL or "filesystem://")
# No result backend: nothing reads a task's return value (each task's effect
# is a database row), and with a Redis backend every `.delay()` first
# subscribes to the result, retrying for ~19 s while Redis is down. Set
# CELERY_RESULT_BACKEND only for a tool that reads results (e.g. Flower).
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", "") or None
CELERY_TASK_IGNORE_RESULT = True
# Publishing gives up fast when the broker is down (monitoring.queueing logs
# it; every queued task has a catch-up path): one quick retry, a short
# connect timeout. A web request then waits well under a second.
CELERY_BROKER_CONNECTION_TIMEOUT = 0.5
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.1, "interval_max": 0.1}
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = VAR_DIR / "celery" / "queue"
    _processed_dir = VAR_DIR / "celery" / "processed"
    # The transport needs both folders to exist before a worker or beat starts;
    # "in" and "out" must be the same folder for messages to reach the worker.
    _queue_dir.mkdir(parents=True, exist_ok=True)
    _processed_dir.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(_processed_dir),
        "store_processed": False,
        # Fanout bindings; kombu's default is "control" in the working folder.
        "control_folder": str(VAR_DIR / "celery" / "control"),
    }
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # Redis hands an unacknowledged task to another worker after this many
    # seconds; every countdown and retry delay stays well below it (a test
    # checks), or the task would run twice.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600),
        # An unreachable host fails in a quarter second instead of the OS's
        # connect timeout; a Redis that accepts but never answers in half a
        # second. (The worker waits for tasks through its event loop, which
        # reads only when Redis has sent something: this does not cut it short.)
        "socket_connect_timeout": 0.25,
        "socket_timeout": 0.5,
    }
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
# Two installations sharing one Redis keep apart with their own queue name.
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE", "celery")
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 240)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TIMEZONE = TIME_ZONE
# Periodic jobs as cron strings, so an operator can move them with an
# environment variable; "expires" drops a run that could not start in time
# instead of letting runs pile up behind a stopped worker.
LOW_BALANCE_SWEEP_SECONDS = env_int("LOW_BALANCE_SWEEP_SECONDS", 15 * 60)
# Clients hear this many days ahead that unused hours expire or their term ends.
EXPIRY_NOTICE_DAYS = env_int("EXPIRY_NOTICE_DAYS", 14)
# Within this many days of an agreement's end the sweep sells no reload block
# (its hours would expire with the term); staff are told instead.
RELOAD_STOPS_DAYS_BEFORE_TERM_END = env_int("RELOAD_STOPS_DAYS_BEFORE_TERM_END", 30)
# A client contact can question a time entry worked within this many days.
QUESTION_WINDOW_DAYS = env_int("QUESTION_WINDOW_DAYS", 90)
# An estimate's approve and decline links in the client's email work this many days.
ESTIMATE_LINK_DAYS = env_int("ESTIMATE_LINK_DAYS", 7)
# Time logged on a ticket beyond an approved estimate plus this share is flagged to staff.
ESTIMATE_OVERRUN_PERCENT = env_int("ESTIMATE_OVERRUN_PERCENT", 10)
CELERY_BEAT_SCHEDULE = {
    # Webhook deliveries that are due and whose queue message was lost; safe to run twice.
    "send-due-webhooks": {
        "task": "webhooks.tasks.send_due_webhooks",
        "schedule": env_crontab("WEBHOOKS_CATCH_UP_CRON", "* * * * *"),
        "options": {"expires": 50},
    },
    "sweep-low-balances": {
        "task": "notifications.tasks.sweep_low_balances",
        "schedule": LOW_BALANCE_SWEEP_SECONDS,
        "options": {"expires": max(LOW_BALANCE_SWEEP_SECONDS - 1, 1)},
    },
    "purge-idempotency-keys": {
        "task": "api.tasks.purge_idempotency_keys",
        "schedule": env_crontab("IDEMPOTENCY_PURGE_CRON", "17 * * * *"),
        "options": {"expires": 30 * 60},
    },
    "expiry-notices": {
        "task": "notifications.tasks.send_expiry_notices",
        "schedule": env_crontab("EXPIRY_NOTICE_CRON", "15 7 * * *"),
        "options": {"expires": 60 * 60},
    },
    # The dashboard's totals, recounted off the request path (a page then only reads them).
    **(
        {
            "dashboard-figures": {
                "task": "agreements.tasks.refresh_dashboard_figures",
                "schedule": DASHBOARD_FIGURES_SECONDS,
                "options": {"expires": max(DASHBOARD_FIGURES_SECONDS - 1, 1)},
            }
        }
        if DASHBOARD_FIGURES_SECONDS > 0
        else {}
    ),
    # The burn window slides at midnight: recount the cached burn rates for the new day.
    "recompute-burn": {
        "task": "agreements.tasks.recompute_burn",
        "schedule": env_crontab("BURN_RECOMPUTE_CRON", "1 0 * * *"),
        "options": {"expires": 60 * 60},
    },
    "expire-blocks": {
        "task": "agreements.tasks.expire_blocks",
        "schedule": env_crontab("BLOCK_EXPIRY_CRON", "5 0 * * *"),
        "options": {"expires": 60 * 60},
    },
    # Renewal invoices due, then terms that renew or end; safe to run twice.
    "renew-agreements": {
        "task": "notifications.tasks.renew_agreements",
        "schedule": env_crontab("RENEWAL_CRON", "20 0 * * *"),
        "options": {"expires": 60 * 60},
    },
    # Monthly close of overage (before the statements, so they list it); safe to run twice.
    "overage-close": {
        "task": "notifications.tasks.bill_overage",
        "schedule": env_crontab("OVERAGE_CLOSE_CRON", "0 6 1 * *"),
        "options": {"expires": 6 * 60 * 60},
    },
    # Monthly statements for the month just ended; safe to run twice.
    "monthly-statements": {
        "task": "reports.tasks.send_monthly_statements",
        "schedule": env_crontab("STATEMENT_CRON", "30 6 1 * *"),
        "options": {"expires": 6 * 60 * 60},
    },
}

# Online payments (payments/): Stripe, only when its keys are set; without
# them nothing of Stripe shows anywhere and payments are recorded by hand.
# STRIPE_API_BASE points the library at another server (tests: localstripe);
# Stripe.js then loads from that server too unless STRIPE_JS_URL says otherwise.
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY", "")
STRIPE_PUBLISHABLE_KEY = env_str("STRIPE_PUBLISHABLE_KEY", "")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET", "")
STRIPE_API_BASE = env_str("STRIPE_API_BASE", "").rstrip("/")
STRIPE_JS_URL = env_str("STRIPE_JS_URL", "")
# A pay link in an invoice email works this long (and never once the invoice is paid or void).
PAY_LINK_MAX_AGE_DAYS = env_int("PAY_LINK_MAX_AGE_DAYS", 90)
CELERY_BEAT_SCHEDULE["stripe-reconcile"] = {
    "task": "payments.tasks.reconcile",
    "schedule": env_crontab("STRIPE_RECONCILE_CRON", "*/30 * * * *"),
    "options": {"expires": 25 * 60},
}

# Reports (reports/): the flat-rate MSA comparison looks at this many full
# months of invoices, against seats × this monthly price per seat.
REPORTS_MSA_TRAILING_MONTHS = env_int("REPORTS_MSA_TRAILING_MONTHS", 3)
REPORTS_MSA_SEAT_PRICE = Decimal(env_str("REPORTS_MSA_SEAT_PRICE", "150.00"))

# The REST API (api/): a token per user (only its hash is stored) or the
# session for the browsable API; one throttle budget per token.
API_THROTTLE_RATE = env_str("API_THROTTLE_RATE", "1200/min")
# How long an Idempotency-Key is remembered per user: a retry within this
# time replays the first response; afterwards the key counts as new.
API_IDEMPOTENCY_KEY_HOURS = env_int("API_IDEMPOTENCY_KEY_HOURS", 24)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # Integrations speak JSON; api.parsers also refuses NUL and lone surrogates in any string.
    "DEFAULT_PARSER_CLASSES": ["api.parsers.JSONParser"],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.TokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"token": API_THROTTLE_RATE},
    "DEFAULT_PAGINATION_CLASS": "api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "api.filters.StrictFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "api.schema.ApiAutoSchema",
    "EXCEPTION_HANDLER": "api.exceptions.api_exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Blockhours API",
    "DESCRIPTION": (
        "Prepaid blocks of support hours: clients, agreements with balance and runway, the ledger, "
        "time entries, invoices and payments. Time is in integer minutes; money is a decimal string "
        "beside a currency code. Authenticate with `Authorization: Token <key>`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "AgreementStatusEnum": "agreements.models.AgreementStatus",
        "TicketStatusEnum": "agreements.models.TicketStatus",
        "InvoiceStatusEnum": "billing.models.InvoiceStatus",
        "InvoiceKindEnum": "billing.models.InvoiceKind",
        "LedgerKindEnum": "agreements.models.LedgerKind",
    },
}

# Outgoing webhooks (webhooks/): a delivery not acknowledged with a 2xx is
# retried with doubling delays (a minute, two, four..., at most
# WEBHOOKS_RETRY_MAX_DELAY seconds, below the broker's visibility timeout) for
# WEBHOOKS_RETRY_HOURS, then marked failed. Endpoints on loopback, private or
# link-local addresses are refused (SSRF) unless WEBHOOKS_ALLOW_PRIVATE (tests, a lab).
WEBHOOKS_TIMEOUT = env_int("WEBHOOKS_TIMEOUT", 10)
WEBHOOKS_RETRY_HOURS = env_int("WEBHOOKS_RETRY_HOURS", 24)
WEBHOOKS_RETRY_MAX_DELAY = env_int("WEBHOOKS_RETRY_MAX_DELAY", 30 * 60)
WEBHOOKS_ALLOW_PRIVATE = env_bool("WEBHOOKS_ALLOW_PRIVATE", False)

# Monitoring (monitoring/): /healthz (liveness) and /readyz (database, broker,
# cache) are open, for health checks. /metrics answers only to
# "Authorization: Bearer <METRICS_TOKEN>"; without a token it is off (404).
# A worker serves its task counters on WORKER_METRICS_PORT (0: off).
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
# Several processes (gunicorn workers, a prefork Celery worker): each writes
# its counters to files in this folder and /metrics adds them up (read by
# prometheus_client from the environment; the folder must exist and be
# emptied before the server starts, as docker-compose does). Unset: each
# process counts alone, right for one process.
PROMETHEUS_MULTIPROC_DIR = env_str("PROMETHEUS_MULTIPROC_DIR", "")
if PROMETHEUS_MULTIPROC_DIR:
    Path(PROMETHEUS_MULTIPROC_DIR).mkdir(parents=True, exist_ok=True)
WORKER_METRICS_PORT = env_int("WORKER_METRICS_PORT", 0)
WORKER_METRICS_ADDRESS = env_str("WORKER_METRICS_ADDRESS", "127.0.0.1")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

# Pages may not be framed by other sites, and other sites learn only our origin.
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
# Content-Security-Policy (django-csp): scripts and styles only from our own
# static files, no inline script anywhere (templates keep their JS in
# static/js/). Inline style attributes stay allowed: they cannot run code.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# Production sits behind a TLS-terminating proxy that sets X-Forwarded-Proto;
# `manage.py check --deploy` passes with these defaults (a test runs it).
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    # Health checks call the container over plain HTTP, past the proxy.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)

# Client imports (imports app): the largest file accepted, the most rows in
# one, and the size above which a confirmed import runs in a Celery task with
# a progress bar instead of inside the request.
IMPORT_MAX_BYTES = env_int("IMPORT_MAX_BYTES", 10 * 1024 * 1024)
IMPORT_MAX_ROWS = env_int("IMPORT_MAX_ROWS", 20_000)
IMPORT_INLINE_MAX_ROWS = env_int("IMPORT_INLINE_MAX_ROWS", 500)
