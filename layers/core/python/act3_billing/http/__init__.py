"""HTTP edge: problem+json errors, caller identity from verified claims, request/response models."""
