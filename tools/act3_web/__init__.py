"""Deploying the web app (``web/``) to the stack's bucket and CloudFront: ``python -m act3_web deploy``."""
