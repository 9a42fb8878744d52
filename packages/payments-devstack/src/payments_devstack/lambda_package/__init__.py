"""`make lambda-package`: one zip per Lambda function and architecture, from uv.lock."""
