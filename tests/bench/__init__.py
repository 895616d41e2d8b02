"""Benchmarks of the store and the functions' cold start (`make bench`, `python -m tests.bench`).

Everything is measured in the run: DynamoDB requests are counted by a botocore hook, throughput is
wall-clock time on DynamoDB Local (started in memory, stopped at the end), and cold imports are timed
in fresh processes of a virtualenv that holds only the layer's runtime requirements.
"""
