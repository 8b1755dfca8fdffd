"""gunicorn settings: `gunicorn --config gunicorn.conf.py run:app`; override with GUNICORN_* env."""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:5000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
accesslog = "-"
# No control socket in the home folder (gunicorn 27 creates one by default).
control_socket_disable = True
# Paths without query strings: list filters can carry personal data (an ID number searched for).
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'
