"""DynamoDB access: PynamoDB models and repositories. The only package that imports pynamodb."""
