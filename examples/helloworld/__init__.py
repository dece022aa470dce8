"""A minimal Django project: one view at `/hello`."""
