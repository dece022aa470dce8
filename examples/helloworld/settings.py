"""Settings for the example Django project: the least Django needs to answer `/hello`."""

DEBUG = False
SECRET_KEY = "rswsgi-example-only-not-secret"  # an example project, never deployed
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]", "testserver"]
ROOT_URLCONF = "helloworld.urls"
INSTALLED_APPS: list[str] = []
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
USE_TZ = True
