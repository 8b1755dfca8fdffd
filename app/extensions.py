"""Extension objects shared by the factory and the modules; bound to an app only in create_app."""

from flask_appbuilder.models.sqla.base import SQLA
from flask_caching import Cache
from flask_migrate import Migrate

db = SQLA()
migrate = Migrate()
cache = Cache()
