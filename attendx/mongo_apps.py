"""App configs for MongoDB: contrib and third-party apps whose models would get an integer key.

``attendx.settings.mongodb`` puts these in INSTALLED_APPS when ``MONGODB_URI`` is set, so that every
model's primary key is an ObjectId there (the same value as that module's DEFAULT_AUTO_FIELD).
"""

from axes.apps import AppConfig as AxesConfig
from django.contrib.admin.apps import AdminConfig
from django.contrib.auth.apps import AuthConfig
from django.contrib.contenttypes.apps import ContentTypesConfig

OBJECT_ID_AUTO_FIELD = "django_mongodb_backend.fields.ObjectIdAutoField"


class MongoAdminConfig(AdminConfig):
    default_auto_field = OBJECT_ID_AUTO_FIELD


class MongoAuthConfig(AuthConfig):
    default_auto_field = OBJECT_ID_AUTO_FIELD


class MongoContentTypesConfig(ContentTypesConfig):
    default_auto_field = OBJECT_ID_AUTO_FIELD


class MongoAxesConfig(AxesConfig):
    default_auto_field = OBJECT_ID_AUTO_FIELD
