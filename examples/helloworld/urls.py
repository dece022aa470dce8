"""URL table of the example Django project."""

from django.urls import path

from . import views

urlpatterns = [path("hello", views.hello), path("upload", views.upload)]
