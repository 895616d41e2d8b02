"""The local stack (``python -m act3_local``): DynamoDB Local, moto and the API, run by the project."""
