"""The service layer: plain Python shared by the HTTP views and the Celery tasks."""
